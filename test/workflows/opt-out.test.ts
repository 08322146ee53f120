/**
 * Opt-out (issue #15, delivery rules) on a real hub, real Redis and both databases: "TD" from a
 * customer records the opt-out in their consent flags and is confirmed once in their locale (zh),
 * with no bot reply; their renewal reminder (config/workflows/renewal-reminder.yaml) is then
 * skipped, the skip and its reason shown by GET /api/events/:id, while another customer gets
 * theirs; "stop" inside a sentence is an ordinary message for the bot; "START" opts back in.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Responder } from '../../src/core/responder.js';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { normalizeWord } from '../../src/workflows/opt-out.js';
import { DIALECTS } from '../helpers/env.js';
import { workflowConfigDir } from './config-dir.js';
import { eventsClient } from './events-client.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';

const EVENTS = generateToken();
const TOKENS = [{ name: 'crm', roles: ['events' as const], sha256: hashToken(EVENTS) }];

function configDir(): string {
  const { dir, wf } = workflowConfigDir('sb-wf-opt-out-', 'timezone: UTC\nquietHours: off\nchannels: [preferred]\noptOutWords: [退订, TD, STOP, unsubscribe]\n');
  const renewal = readFileSync(join('config', 'workflows', 'renewal-reminder.yaml'), 'utf8');
  assert.match(renewal, /channels: \[preferred, email\]/);
  writeFileSync(join(wf, 'renewal-reminder.yaml'), renewal.replace('channels: [preferred, email]', 'channels: [preferred]'));
  return dir;
}

const echo: Responder = { respond: async (turn) => ({ kind: 'answer', text: `echo: ${turn.text}` }) };


describe('opt-out words', () => {
  it('are matched whole: trimmed, case-insensitive, full-width as half-width', () => {
    assert.equal(normalizeWord('  ｔｄ '), 'td');
    assert.equal(normalizeWord('ＳＴＯＰ！'), 'stop');
    assert.equal(normalizeWord('退订。'), '退订');
    assert.equal(normalizeWord('please stop'), 'please stop');
  });
});

for (const dialect of DIALECTS) {
  describe(`workflow opt-out (${dialect})`, () => {
    let t: TestHub;
    const a = new LoopbackAdapter({ channel: 'alpha' });
    const { post, status } = eventsClient(() => t.hub.url, EVENTS);
    const texts = (user: string) => a.sent.filter((m) => m.ref.chatId === user).map((m) => m.text ?? '');
    const customerOf = async (user: string) => {
      const identity = await t.hub.storage.customers.findIdentity('alpha', user);
      assert.ok(identity, `identity of ${user}`);
      const customer = await t.hub.storage.customers.get(identity.customerId);
      assert.ok(customer);
      return customer;
    };
    const expiring = (user: string, subscriptionId: string) =>
      post({
        type: 'subscription.expiring',
        customer: { identities: [{ channel: 'alpha', id: user }], locale: 'en' },
        data: { subscriptionId, plan: 'Pro', dueAt: new Date(Date.now() + 3 * 86_400_000).toISOString() },
      });

    before(async () => {
      t = await startTestHub({ dialect, adapters: [a], responder: echo, configDir: configDir(), config: { api: { tokens: TOKENS } } });
    });
    after(async () => {
      await t.stop();
    });

    it('"TD" records the opt-out, is confirmed once in zh, and the bot stays out', async () => {
      await a.receive('lin', ' TD ', { locale: 'zh-CN' });
      await until(() => texts('lin').length > 0 || undefined, 10_000, 'the confirmation');
      // A next message as the barrier (turns of a conversation run in order): no bot reply to "TD" in between.
      await a.receive('lin', '你好');
      await until(() => texts('lin').includes('echo: 你好') || undefined, 10_000, 'the bot answering the next message');
      assert.deepEqual(texts('lin'), ['您已退订，我们将不再主动向您发送提醒和通知。回复“订阅”可重新接收。', 'echo: 你好']);
      const optOut = (await customerOf('lin')).consent.optOut as Record<string, { at: string; word: string; channel: string }>;
      assert.deepEqual(Object.keys(optOut).sort(), ['alert', 'reminder']);
      assert.equal(optOut.reminder?.word, 'TD');
      assert.equal(optOut.reminder?.channel, 'alpha');
      assert.ok(!Number.isNaN(Date.parse(optOut.reminder?.at ?? '')));
    });

    it("the opted-out customer's reminder is skipped (visible in the event status); another customer gets theirs", async () => {
      const skipped = await expiring('lin', 'sub-lin');
      const sent = await expiring('max', 'sub-max');
      const lin = await until(async () => {
        const s = await status(skipped.id);
        return s.runs[0]?.status === 'done' ? s : undefined;
      }, 10_000, "lin's run ended");
      assert.deepEqual(lin.runs[0]?.steps.map((x) => [x.id, x.status]), [
        ['wait-7d', 'done'],
        ['remind-7d', 'skipped'],
      ]);
      const at = ((await customerOf('lin')).consent.optOut as Record<string, { at: string }>).reminder?.at;
      assert.equal(lin.runs[0]?.steps[1]?.result?.reason, `opted out (reminder) at ${at}`);

      await until(() => texts('max').length > 0 || undefined, 10_000, "max's reminder");
      assert.match(texts('max')[0] ?? '', /^Hi! Your Pro subscription renews on /);
      const max = await until(async () => {
        const s = await status(sent.id);
        return s.runs[0]?.steps.some((x) => x.id === 'wait-1d' && x.status === 'scheduled') ? s : undefined;
      }, 10_000, "max's run waiting for the 1-day reminder");
      assert.equal(max.runs[0]?.status, 'running');
      assert.equal(max.runs[0]?.steps.find((x) => x.id === 'remind-7d')?.status, 'done');
      assert.equal(texts('lin').length, 2, 'no reminder for lin');
    });

    it('"stop" inside a sentence is an ordinary message for the bot', async () => {
      await a.receive('nora', 'please stop the delivery', { locale: 'en' });
      await until(() => texts('nora').includes('echo: please stop the delivery') || undefined, 10_000, 'the bot answering');
      assert.equal((await customerOf('nora')).consent.optOut, undefined);
    });

    it('"START" opts back in (confirmed); from a customer who never opted out it goes to the bot', async () => {
      await a.receive('lin', 'START');
      await until(() => texts('lin').length > 2 || undefined, 10_000, 'the opt-in confirmation');
      assert.equal(texts('lin')[2], '您已重新订阅，我们会继续向您发送提醒和通知。回复“退订”可随时退订。');
      assert.equal((await customerOf('lin')).consent.optOut, undefined);
      await a.receive('nora', 'START');
      await until(() => texts('nora').includes('echo: START') || undefined, 10_000, 'the bot answering START');
    });
  });
}
