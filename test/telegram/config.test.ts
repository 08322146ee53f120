import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { telegramAdapter, telegramConfigSchema } from '../../src/adapters/telegram/index.js';
import { scrubToken } from '../../src/adapters/telegram/api-errors.js';
import { HubError } from '../../src/core/errors.js';
import { testLog } from './harness.js';

const deps = { log: testLog, dataDir: '/tmp' };

describe('telegram config', () => {
  it('defaults: polling against api.telegram.org, webhook path, no groups', async () => {
    const c = telegramConfigSchema.parse({ enabled: true, token: '1:x' });
    assert.equal(c.mode, 'polling');
    assert.equal(c.apiRoot, 'https://api.telegram.org');
    assert.equal(c.webhook.path, '/webhooks/telegram');
    assert.deepEqual(c.allowedGroups, []);
    assert.equal(c.pollingTimeoutSec, 30);
    const a = await telegramAdapter.create(c, deps);
    assert.equal(a.connection, 'long');
    assert.equal(a.sendNeedsConnection, false);
    assert.equal(a.capabilities.maxTextLength, 4096);
  });

  it('an enabled channel with an empty token (unset ${TELEGRAM_BOT_TOKEN}) stops start-up naming the field', async () => {
    const c = telegramConfigSchema.parse({ enabled: true, token: '' });
    await assert.rejects(
      async () => telegramAdapter.create(c, deps),
      (e: HubError) => e.code === 'CONFIG_INVALID' && /channels\.telegram\.token/.test(e.message) && /TELEGRAM_BOT_TOKEN/.test(e.message),
    );
  });

  it('a disabled channel may have an empty token (its unset variables are not reported)', () => {
    assert.doesNotThrow(() => telegramConfigSchema.parse({ enabled: false, token: '' }));
  });

  it('webhook mode requires a secret token', async () => {
    const r = telegramConfigSchema.safeParse({ enabled: true, token: '1:x', mode: 'webhook' });
    assert.equal(r.success, false);
    assert.deepEqual(r.error?.issues[0]?.path, ['webhook', 'secretToken']);
    assert.match(r.error?.issues[0]?.message ?? '', /required when mode is webhook/);
    const empty = telegramConfigSchema.parse({ enabled: true, token: '1:x', mode: 'webhook', webhook: { secretToken: '' } });
    await assert.rejects(async () => telegramAdapter.create(empty, deps), /webhook\.secretToken is empty/);
  });

  it('rejects unknown fields and bad group ids', () => {
    assert.equal(telegramConfigSchema.safeParse({ enabled: true, token: '1:x', tokne: 'y' }).success, false);
    assert.equal(telegramConfigSchema.safeParse({ enabled: true, token: '1:x', allowedGroups: ['acme'] }).success, false);
  });

  it('scrubs tokens from text', () => {
    const token = '123456789:AAFakeTokenForTestsOnly-abcdefghijkl';
    assert.equal(scrubToken(`request to http://x/bot${token}/sendMessage failed`, token), 'request to http://x/bot<token>/sendMessage failed');
    assert.equal(scrubToken('bot987654321:AAAnotherTokenLooking_0123456789/getMe', ''), 'bot<token>/getMe');
  });
});
