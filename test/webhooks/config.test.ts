/** hub.yaml's `webhooks:` section: what it accepts, and what it refuses by name. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from '../../src/hub/config-schema.js';
import { isHubError } from '../../src/core/errors.js';
import { eventCatalogue } from '../../src/core/events.js';
import { endpointsOf, wants } from '../../src/webhooks/config.js';

const env = { CRM_SECRET: 'crm-secret-0123456789', ALL_SECRET: 'all-secret-0123456789' };

function errorOf(text: string, e: NodeJS.ProcessEnv = env): string {
  try {
    parseConfigText('config/hub.yaml', text, { env: e });
  } catch (err) {
    assert.ok(isHubError(err), `not a HubError: ${String(err)}`);
    return err.message;
  }
  assert.fail('the config was accepted');
}

describe('webhooks config', () => {
  it('reads endpoints with ${ENV} secrets; "*" means every event type of the catalogue', () => {
    const cfg = parseConfigText(
      'hub.yaml',
      [
        'webhooks:',
        '  - url: https://crm.example.com/hook',
        '    events: [conversation.escalated, csat.given]',
        '    secret: ${CRM_SECRET}',
        '  - name: everything',
        '    url: http://127.0.0.1:9000/in',
        '    events: ["*"]',
        '    secret: ${ALL_SECRET}',
        '    timeoutMs: 3000',
      ].join('\n'),
      { env },
    );
    const [crm, all] = endpointsOf(cfg.webhooks);
    assert.deepEqual(crm, { name: 'https://crm.example.com/hook', url: 'https://crm.example.com/hook', secret: env.CRM_SECRET, timeoutMs: 10_000, types: ['conversation.escalated', 'csat.given'] });
    assert.equal(all?.name, 'everything');
    assert.equal(all?.types, null);
    for (const t of Object.keys(eventCatalogue)) assert.ok(wants(all!, t), t);
    assert.equal(wants(crm!, 'bot.answered'), false);
    assert.deepEqual(parseConfigText('hub.yaml', '', { env: {} }).webhooks, []);
  });

  it('an unknown event type is refused, naming it, its line and the valid types', () => {
    const msg = errorOf('webhooks:\n  - url: https://x.example.com/\n    events: [conversation.escalated, conversation.closed]\n    secret: ${CRM_SECRET}\n');
    assert.match(msg, /config\/hub\.yaml:3: webhooks\[0\]\.events\[1\]: unknown event type "conversation\.closed"/);
    assert.match(msg, /use "\*" or one of message\.received, bot\.answered, .*identity\.unreachable/);
    for (const t of Object.keys(eventCatalogue)) assert.ok(msg.includes(t), `valid type ${t} not listed`);
  });

  it('refuses an unset secret variable, a short secret, a non-http URL, no events and two endpoints with one name', () => {
    assert.match(
      errorOf('webhooks:\n  - url: https://x.example.com/\n    events: ["*"]\n    secret: ${HOOK_SECRET}\n', {}),
      /config\/hub\.yaml:4: webhooks\[0\]\.secret: environment variable HOOK_SECRET is not set/,
    );
    assert.match(errorOf('webhooks:\n  - url: https://x.example.com/\n    events: ["*"]\n    secret: short\n'), /webhooks\[0\]\.secret: must be at least 16 characters/);
    assert.match(errorOf('webhooks:\n  - url: ftp://x.example.com/\n    events: ["*"]\n    secret: ${CRM_SECRET}\n'), /webhooks\[0\]\.url: must be an http:\/\/ or https:\/\/ URL/);
    assert.match(errorOf('webhooks:\n  - url: https://x.example.com/\n    events: []\n    secret: ${CRM_SECRET}\n'), /webhooks\[0\]\.events: list the event types to send, or "\*"/);
    const twice = ['webhooks:', '  - url: https://a.example.com/', '    events: ["*"]', '    secret: ${CRM_SECRET}', '  - url: https://a.example.com/', '    events: ["*"]', '    secret: ${ALL_SECRET}'].join('\n');
    assert.match(errorOf(twice), /config\/hub\.yaml:5: webhooks\[1\]\.url: "https:\/\/a\.example\.com\/" also names webhooks\[0\]: give each endpoint its own name/);
    assert.match(errorOf('webhooks:\n  - url: https://x.example.com/\n    events: ["*"]\n    secret: ${CRM_SECRET}\n    secrte: x\n'), /unknown field\(s\) secrte/);
  });
});
