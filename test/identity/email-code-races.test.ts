/**
 * Email codes under concurrency, on a real hub's storage and Redis (both databases): parallel
 * guesses never get past 5 tries, the right code typed twice at once links once, and the limits
 * admit exactly their number of codes when many processes ask at once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { claimAddress, verifyCode, type Claimant, type EmailCodeDeps } from '../../src/core/customers/email-code.js';
import { redisCodeLimiter } from '../../src/core/customers/code-limits.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { DIALECTS, uniqueName } from '../helpers/env.js';
import { say } from './helpers.js';

for (const dialect of DIALECTS) {
  describe(`email codes under concurrency (${dialect})`, () => {
    let t: TestHub;
    let d: EmailCodeDeps;
    before(async () => {
      t = await startTestHub({ dialect });
      d = { storage: t.hub.storage, change: t.hub.changeDeps(), limiter: redisCodeLimiter(t.hub.redis, t.hub.config.redis.prefix), now: () => Date.now() };
    });
    after(async () => {
      await t?.stop();
    });

    /** A chat customer who claimed `address`; the code as mailed (read from the address customer's outbound row). */
    async function claimed(user: string, address: string): Promise<{ c: Claimant; code: string }> {
      const rec = await say(t.hub.storage, 'telegram', user, 'hi');
      const c: Claimant = { channel: 'telegram', platformUserId: user, customerId: rec.customer.id, conversationId: rec.conversation.id, messageId: rec.message.id };
      assert.equal(await claimAddress(d, c, address, (code) => `code\n\n${code}`), 'sent');
      const row = await t.hub.storage.emailCodes.latestOf(`telegram:${user}`);
      const mail = await t.hub.storage.messages.byKey(`proactive:email-code:${row?.id ?? ''}`);
      const code = /^(\d{6})$/m.exec(mail?.text ?? '')?.[1];
      assert.ok(code);
      return { c, code };
    }

    it('eight parallel wrong guesses: five are checked, three refused without a comparison', async () => {
      const { c, code } = await claimed('960000001', 'par@example.com');
      const wrong = code === '000000' ? '111111' : '000000';
      const got = await Promise.all(Array.from({ length: 8 }, (_, i) => verifyCode(d, { ...c, messageId: `${c.messageId}-${i}` }, wrong)));
      assert.equal(got.filter((g) => g === 'wrong' || g === 'last_wrong').length, 5, got.join(','));
      assert.equal(got.filter((g) => g === 'locked').length, 3);
      assert.equal(await verifyCode(d, { ...c, messageId: `${c.messageId}-right` }, code), 'locked');
      assert.equal((await t.hub.storage.emailCodes.latestOf('telegram:960000001'))?.tries, 5);
    });

    it('the right code typed twice at once links once', async () => {
      await say(t.hub.storage, 'email', 'twice@example.com', 'mail first');
      const { c, code } = await claimed('960000002', 'twice@example.com');
      const got = await Promise.all([verifyCode(d, { ...c, messageId: 'a' }, code), verifyCode(d, { ...c, messageId: 'b' }, code)]);
      assert.deepEqual([...got].sort(), ['linked', 'used']);
      const links = await t.hub.storage.audit.list({ customerId: c.customerId, action: 'link', limit: 10 });
      assert.equal(links.length, 1);
      assert.equal((await t.hub.storage.customers.findIdentity('email', 'twice@example.com'))?.customerId, c.customerId);
    });

    it('the limits admit exactly their number when ten ask at once', async () => {
      const limiter = redisCodeLimiter(t.hub.redis, uniqueName(`${t.hub.config.redis.prefix}:race`));
      const now = Date.now();
      const byAddress = await Promise.all(Array.from({ length: 10 }, (_, i) => limiter.admit({ identity: `telegram:${i}`, address: 'one@example.com', request: `r${i}`, now })));
      assert.equal(byAddress.filter((a) => a === 'ok').length, 3);
      assert.ok(byAddress.filter((a) => a !== 'ok').every((a) => a === 'address'));
      const byIdentity = await Promise.all(Array.from({ length: 10 }, (_, i) => limiter.admit({ identity: 'telegram:x', address: `a${i}@example.com`, request: `s${i}`, now })));
      assert.equal(byIdentity.filter((a) => a === 'ok').length, 3);
      // The same request again (a redelivered claim) is not counted twice; an hour later the window is free.
      const first = byIdentity.indexOf('ok');
      assert.equal(await limiter.admit({ identity: 'telegram:x', address: `a${first}@example.com`, request: `s${first}`, now }), 'ok');
      assert.equal(await limiter.admit({ identity: 'telegram:x', address: 'new@example.com', request: 'later', now: now + 60 * 60_000 + 1 }), 'ok');
    });
  });
}
