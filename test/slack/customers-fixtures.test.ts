import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mapAction, mapMessage, type MapEnv, type MapResult } from '../../src/adapters/slack/mapper.js';
import { validateInbound } from '../../src/core/pipeline/validate.js';

/** Saved Slack payloads (Events API callbacks, one interactivity payload), shaped as Slack sends them. */
function fixture(name: string): { team_id?: string; event?: unknown } & Record<string, unknown> {
  return JSON.parse(readFileSync(join('test', 'slack', 'fixtures', `${name}.json`), 'utf8')) as { team_id?: string; event?: unknown };
}

const env = (deliveredTeam = 'T0OURS'): MapEnv => ({ sharedChannels: new Set(['C0SHARED1']), ownTeams: new Set(), deliveredTeam, now: 1_764_979_999_000 });

function event(name: string): MapResult {
  const f = fixture(name);
  return mapMessage(f.event, env(f.team_id));
}

function accepted(r: MapResult) {
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return validateInbound(r.message);
}

describe('slack customers: mapper on saved payloads', () => {
  it('dm-text: a DM, one conversation per person (no thread key), id <channel>:<ts>', () => {
    const m = accepted(event('dm-text'));
    assert.equal(m.platformMessageId, 'D0ALICE01:1764979200.123456');
    assert.equal(m.platformUserId, 'T0OURS:U0ALICE');
    assert.equal(m.threadKey, undefined);
    assert.deepEqual(m.ref, { channel: 'slack', chatId: 'D0ALICE01', extra: { kind: 'dm', team: 'T0OURS' } });
    assert.equal(m.text, 'Hi, our invoice for November is missing');
  });

  it('shared-top-level: a Slack Connect customer (their team), mrkdwn made plain, the thread starts at its ts', () => {
    const m = accepted(event('shared-top-level'));
    assert.equal(m.platformUserId, 'T0ACME:U0BOB');
    assert.equal(m.userName, 'bob');
    assert.equal(m.threadKey, 'C0SHARED1:1764979300.000200');
    assert.equal(m.ref.threadId, '1764979300.000200');
    assert.equal(m.text, 'Hello  & team: the export to our ERP (https://acme.example/x) fails');
  });

  it('shared-thread-reply: continues the thread of its root', () => {
    const m = accepted(event('shared-thread-reply'));
    assert.equal(m.threadKey, 'C0SHARED1:1764979300.000200');
    assert.equal(m.platformMessageId, 'C0SHARED1:1764979400.000300');
  });

  it('message-changed-edit: the edited text is a new message with its own id, in the same thread', () => {
    const m = accepted(event('message-changed-edit'));
    assert.equal(m.platformMessageId, 'C0SHARED1:1764979400.000300:edit:1764979600.000000');
    assert.equal(m.text, 'It is order 4712');
    assert.equal(m.threadKey, 'C0SHARED1:1764979300.000200');
    assert.equal(m.extra?.edited, true);
  });

  it('file-share-no-text: kept as media; a Slack Connect file without details keeps its id as the fetch handle', () => {
    const m = accepted(event('file-share-no-text'));
    assert.equal(m.kind, 'media');
    assert.equal(m.text, '');
    assert.equal(m.attachments[0]?.fetchHandle, 'F0SCREEN1');
  });

  for (const [name, why, quiet] of [
    ['shared-own-member', /member of our own workspace \(T0OURS\)/, false],
    ['bot-echo', /bot's message/, true],
    ['message-changed-unfurl', /without a text edit/, true],
    ['message-deleted', /deleted a message; the hub keeps what it received/, false],
  ] as const) {
    it(`${name}: not a customer message, with a reason`, () => {
      const r = event(name);
      assert.ok(!r.ok);
      assert.match(r.reason, why);
      assert.equal(r.quiet === true, quiet);
    });
  }

  it('block-actions: a press of our button in a thread is the answer, in that thread', () => {
    const m = accepted(mapAction(fixture('block-actions'), env()));
    assert.equal(m.kind, 'button');
    assert.equal(m.buttonValue, 'plan:pro');
    assert.equal(m.text, 'Pro');
    assert.equal(m.platformUserId, 'T0ACME:U0BOB');
    assert.equal(m.platformMessageId, 'C0SHARED1:1764979350.000250:press:1764979360.111111');
    assert.equal(m.threadKey, 'C0SHARED1:1764979300.000200');
  });
});
