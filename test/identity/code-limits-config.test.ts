/**
 * The email-code limits come from config (`identity.emailCode.perIdentityPerHour`,
 * `perAddressPerHour`; docs/configuration.md): a hub set to 1 and 1 mails one code per chat
 * identity and one per address, and refuses the next (answered, audited). The defaults (3 and 3)
 * stay when the section is absent. Loopback channels named `telegram` and `email`, real Redis.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { processInbound } from '../../src/core/conversation/inbound.js';
import { codeLimitsOf, identityConfigSchema } from '../../src/core/customers/config.js';
import { DEFAULT_CODE_LIMITS } from '../../src/core/customers/code-limits.js';
import { hubConfigSchema } from '../../src/hub/config-schema.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { inbound } from './helpers.js';

describe('email-code limits from config', () => {
  let t: TestHub;
  const mail = new LoopbackAdapter({ channel: 'email' });
  const tg = new LoopbackAdapter({ channel: 'telegram' });
  /** A Telegram user writes; the hub's latest answer to them. */
  const tell = async (user: string, text: string): Promise<string> => {
    await processInbound(t.hub.inboundDeps(), inbound('telegram', user, text, { locale: 'en' }));
    const id = await t.hub.storage.customers.findIdentity('telegram', user);
    const out = (await t.hub.storage.messages.ofCustomer(id?.customerId ?? '', 100)).filter((m) => m.direction === 'out' && m.channel === 'telegram');
    return out.at(-1)?.text ?? '';
  };

  before(async () => {
    t = await startTestHub({ adapters: [tg, mail], config: { identity: { emailCode: { perIdentityPerHour: 1, perAddressPerHour: 1 } } } });
  });
  after(async () => {
    await t.stop();
  });

  it('one code per identity and one per address an hour, as configured', async () => {
    assert.match(await tell('501', 'my email is one@example.com'), /sent a 6-digit code/);
    // The same identity, another address: over its 1 per hour.
    assert.match(await tell('501', 'my email is two@example.com'), /Too many codes/);
    // Another identity, the first address: over the address's 1 per hour.
    assert.match(await tell('502', 'my email is one@example.com'), /Too many codes/);
    // Another identity, a fresh address: allowed.
    assert.match(await tell('503', 'my email is three@example.com'), /sent a 6-digit code/);
    const refused = await t.hub.storage.audit.list({ action: 'link_refused', limit: 10 });
    assert.equal(refused.filter((e) => e.reason === 'rate_limited').length, 2);
  });

  it('defaults to 3 and 3 without the section; refuses a limit below 1 naming the field', () => {
    assert.deepEqual(codeLimitsOf(hubConfigSchema.parse({}).identity), DEFAULT_CODE_LIMITS);
    assert.deepEqual(codeLimitsOf(identityConfigSchema.parse({ emailCode: { perAddressPerHour: 5 } })), { ...DEFAULT_CODE_LIMITS, perAddress: 5 });
    const bad = hubConfigSchema.safeParse({ identity: { emailCode: { perIdentityPerHour: 0 } } });
    assert.equal(bad.success, false);
    assert.deepEqual(bad.error?.issues[0]?.path, ['identity', 'emailCode', 'perIdentityPerHour']);
    assert.equal(hubConfigSchema.safeParse({ identity: { emailCode: { perHour: 2 } } }).success, false, 'an unknown key is refused');
  });
});
