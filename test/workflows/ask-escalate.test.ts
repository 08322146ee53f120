/**
 * The workflow `escalate` and `ask` steps on a real hub, real Redis and both databases: a run that
 * sends and then escalates hands the conversation its send went to over to the desk (waiting_agent,
 * reason `workflow`, the step's priority, its note as an agent note), once even when the step's job
 * is delivered again. The risk alert (config/workflows/risk-alert.yaml with a 2 s timeout) end to
 * end: "2" escalates as high, "1" thanks, no answer escalates after the timeout (a delayed job);
 * an answer after the timeout is an ordinary message.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { escalateConversation } from '../../src/core/conversation/escalate.js';
import type { Responder } from '../../src/core/responder.js';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { WORKFLOWS_QUEUE } from '../../src/workflows/engine.js';
import { DIALECTS, REDIS_URL } from '../helpers/env.js';
import { workflowConfigDir } from './config-dir.js';
import { eventsClient } from './events-client.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';

const EVENTS = generateToken();
const TOKENS = [{ name: 'crm', roles: ['events' as const], sha256: hashToken(EVENTS) }];

function configDir(): string {
  const { dir, wf } = workflowConfigDir('sb-wf-ask-esc-');
  writeFileSync(
    join(wf, 'fraud.yaml'),
    `kind: alert
trigger:
  event: fraud.suspected
  data: { caseId: string }
steps:
  - id: tell
    send: { urgent: true, text: { en: "We are looking into case {{caseId}}", zh: "我们正在处理 {{caseId}}" } }
  - id: to-desk
    escalate: { priority: high, note: "Fraud case {{caseId}}" }
`,
  );
  const risk = readFileSync(join('config', 'workflows', 'risk-alert.yaml'), 'utf8');
  assert.match(risk, /timeout: 15m/);
  writeFileSync(join(wf, 'risk-alert.yaml'), risk.replace('timeout: 15m', 'timeout: 2s'));
  writeFileSync(
    join(wf, 'verify.yaml'),
    `kind: alert
trigger:
  event: login.seen
  data: { loginId: string }
steps:
  - id: confirm
    ask:
      text: { en: "Was this you? 1 Yes 2 No", zh: "是您吗？1 是 2 不是" }
      choices: { yes: ["1"], no: ["2"] }
      timeout: 1s
    on:
      timeout:
        - send: { text: { en: "No answer about {{loginId}}", zh: "未回复 {{loginId}}" } }
`,
  );
  return dir;
}

const echo: Responder = { respond: async (turn) => ({ kind: 'answer', text: `echo: ${turn.text}` }) };


for (const dialect of DIALECTS) {
  describe(`workflow escalate (${dialect})`, () => {
    let t: TestHub;
    let queue: Queue;
    const a = new LoopbackAdapter({ channel: 'alpha' });
    const { post, status, runEnds } = eventsClient(() => t.hub.url, EVENTS);
    const conversationOf = async (user: string) => {
      const identity = await t.hub.storage.customers.findIdentity('alpha', user);
      assert.ok(identity, `identity of ${user}`);
      const convs = await t.hub.storage.conversations.ofCustomer(identity.customerId);
      assert.equal(convs.length, 1);
      return convs[0]!;
    };

    before(async () => {
      t = await startTestHub({ dialect, adapters: [a], responder: echo, configDir: configDir(), config: { api: { tokens: TOKENS } } });
      queue = new Queue(WORKFLOWS_QUEUE, { connection: { url: REDIS_URL }, prefix: t.config.redis.prefix });
    });
    after(async () => {
      await queue.close();
      await t.stop();
    });

    it('send then escalate: the conversation waits for an agent (reason workflow, priority high), one event, the note', async () => {
      const e = await post({ type: 'fraud.suspected', customer: { identities: [{ channel: 'alpha', id: 'mia' }], locale: 'en' }, data: { caseId: 'c-7' } });
      const s = await runEnds(e.id, 'done');
      const runId = s.runs[0]?.id ?? '';
      assert.deepEqual(s.runs[0]?.steps.map((x) => [x.id, x.status]), [
        ['tell', 'done'],
        ['to-desk', 'done'],
      ]);
      const conv = await conversationOf('mia');
      assert.equal(conv.status, 'waiting_agent');
      assert.equal(conv.escalationReason, 'workflow');
      assert.equal(conv.priority, 'high');
      assert.equal(conv.escalationId, `wf:${runId}:to-desk`);
      const events = await t.hub.storage.events.ofConversation(conv.id);
      const escalated = events.filter((x) => x.type === 'conversation.escalated');
      assert.equal(escalated.length, 1);
      const [latest] = await t.hub.storage.messages.ofConversation(conv.id, 1);
      assert.deepEqual(escalated[0]?.payload, { escalationId: `wf:${runId}:to-desk`, reason: 'workflow', priority: 'high', messageId: latest?.id ?? null, sentiment: null });
      const notes = events.filter((x) => x.type === 'note.added');
      assert.deepEqual(
        notes.map((x) => x.payload),
        [{ agentId: 'workflow:fraud', text: 'Fraud case c-7', key: `wf:${runId}:to-desk:note` }],
      );

      // The escalate job delivered again escalates nothing twice.
      await queue.add('step', { runId, stepId: 'to-desk' }, { jobId: `${runId}/to-desk` });
      await until(async () => {
        const c = await queue.getJobCounts('wait', 'active', 'delayed');
        return (c.wait ?? 0) + (c.active ?? 0) + (c.delayed ?? 0) === 0 || undefined;
      });
      const again = await t.hub.storage.events.ofConversation(conv.id);
      assert.equal(again.filter((x) => x.type === 'conversation.escalated').length, 1);
      assert.equal(again.filter((x) => x.type === 'note.added').length, 1);
      // So does the core seam called again with the same escalation id (a job that died after escalating).
      const repeat = await escalateConversation(t.hub.changeDeps(), conv.id, { escalationId: `wf:${runId}:to-desk`, reason: 'workflow', priority: 'high', actor: 'system' });
      assert.equal(repeat.escalated, false);
      assert.equal((await t.hub.storage.events.ofConversation(conv.id)).filter((x) => x.type === 'conversation.escalated').length, 1);
    });

    const texts = (user: string) => a.sent.filter((m) => m.ref.chatId === user).map((m) => m.text ?? '');
    const flagged = (user: string, transactionId: string) =>
      post({
        type: 'transaction.flagged',
        customer: { identities: [{ channel: 'alpha', id: user }], locale: 'en' },
        data: { transactionId, amount: 420, currency: 'EUR', merchant: 'Shop', at: new Date().toISOString() },
      });
    const confirmRow = (runId: string) => t.hub.storage.workflowRuns.step(runId, 'confirm');
    /** The run's ask, once it waits for an answer and its question reached the customer. */
    const asked = async (eventId: string, user: string) => {
      const runId = await until(async () => (await status(eventId)).runs[0]?.id);
      await until(async () => ((await confirmRow(runId))?.status === 'scheduled' ? true : undefined), 10_000, 'the ask waiting');
      await until(() => texts(user).length > 0 || undefined, 10_000, 'the question delivered');
      return runId;
    };
    const escalations = async (user: string) => {
      const conv = await conversationOf(user);
      return { conv, events: (await t.hub.storage.events.ofConversation(conv.id)).filter((x) => x.type === 'conversation.escalated') };
    };

    it('risk alert answered "2" (No): reassures and escalates as high; the answer gets no bot reply', async () => {
      const e = await flagged('noah', 'tx-1');
      const runId = await asked(e.id, 'noah');
      assert.match(texts('noah')[0] ?? '', /^Security alert: a payment of 420 EUR at Shop/);
      await a.receive('noah', '2');
      const s = await runEnds(e.id, 'done');
      assert.deepEqual(s.runs[0]?.steps.map((x) => [x.id, x.status]), [
        ['confirm', 'done'],
        ['reassure', 'done'],
        ['escalate-denied', 'done'],
      ]);
      assert.equal((await confirmRow(runId))?.result?.answer, 'no');
      const { conv, events } = await escalations('noah');
      assert.equal(conv.status, 'waiting_agent');
      assert.equal(conv.escalationReason, 'workflow');
      assert.equal(conv.priority, 'high');
      assert.equal(events.length, 1);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(texts('noah').length, 2, 'the alert and the reassurance, no bot reply to "2"');
      assert.match(texts('noah')[1] ?? '', /^Understood/);
      assert.equal(await queue.getJob(`${runId}/confirm/timeout`), undefined, 'the timeout job is removed');
    });

    it('risk alert answered "1" (Yes): thanks them, no escalation', async () => {
      const e = await flagged('olga', 'tx-2');
      await asked(e.id, 'olga');
      await a.receive('olga', 'yes!');
      const s = await runEnds(e.id, 'done');
      assert.deepEqual(s.runs[0]?.steps.map((x) => x.id), ['confirm', 'thanks']);
      const { conv, events } = await escalations('olga');
      assert.equal(conv.status, 'bot');
      assert.equal(events.length, 0);
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(texts('olga').slice(1), ["Thanks for confirming! We've noted that this payment was yours; there's nothing else you need to do."]);
    });

    it('risk alert with no answer escalates after the timeout; a later "2" changes nothing in the run', async () => {
      const e = await flagged('pete', 'tx-3');
      const runId = await asked(e.id, 'pete');
      const s = await runEnds(e.id, 'done');
      assert.deepEqual(s.runs[0]?.steps.map((x) => [x.id, x.status]), [
        ['confirm', 'done'],
        ['escalate-no-answer', 'done'],
      ]);
      assert.equal((await confirmRow(runId))?.result?.answer, 'timeout');
      const { conv, events } = await escalations('pete');
      assert.equal(conv.status, 'waiting_agent');
      assert.equal(conv.priority, 'high');
      assert.equal(conv.escalationId, `wf:${runId}:escalate-no-answer`);
      assert.equal(events.length, 1);
      // The conversation is with the desk now: the late answer goes to the case, the run keeps its timeout.
      await a.receive('pete', '2');
      await until(async () => (await t.hub.storage.events.ofConversation(conv.id)).some((x) => x.type === 'message.received') || undefined);
      assert.equal((await confirmRow(runId))?.result?.answer, 'timeout');
      assert.equal((await escalations('pete')).events.length, 1);
    });

    it('an answer after the timeout is an ordinary message for the bot', async () => {
      const e = await post({ type: 'login.seen', customer: { identities: [{ channel: 'alpha', id: 'quinn' }], locale: 'en' }, data: { loginId: 'l-9' } });
      const runId = await asked(e.id, 'quinn');
      await runEnds(e.id, 'done');
      assert.equal((await confirmRow(runId))?.result?.answer, 'timeout');
      await until(() => texts('quinn').includes('No answer about l-9') || undefined);
      await a.receive('quinn', '1');
      await until(() => texts('quinn').includes('echo: 1') || undefined, 10_000, 'the bot answering "1"');
      assert.equal((await confirmRow(runId))?.result?.answer, 'timeout');
    });
  });
}
