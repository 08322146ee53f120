/**
 * The workflow `escalate` step on a real hub, real Redis and both databases: a run that sends and
 * then escalates hands the conversation its send went to over to the desk (waiting_agent, reason
 * `workflow`, the step's priority, its note as an agent note), once even when the step's job is
 * delivered again.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { escalateConversation } from '../../src/core/conversation/escalate.js';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { WORKFLOWS_QUEUE } from '../../src/workflows/engine.js';
import { DIALECTS, REDIS_URL } from '../helpers/env.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';

const EVENTS = generateToken();
const TOKENS = [{ name: 'crm', roles: ['events' as const], sha256: hashToken(EVENTS) }];

function configDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sb-wf-ask-esc-'));
  const wf = join(dir, 'workflows');
  mkdirSync(join(dir, 'templates'));
  mkdirSync(wf);
  copyFileSync(join('config', 'templates', 'core.yaml'), join(dir, 'templates', 'core.yaml'));
  copyFileSync(join('config', 'templates', 'messages.yaml'), join(dir, 'templates', 'messages.yaml'));
  writeFileSync(join(wf, '_defaults.yaml'), 'timezone: UTC\nquietHours: off\nchannels: [preferred]\n');
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
  return dir;
}

type EventStatus = { id: string; runs: { id: string; workflow: string; status: string; error?: string; steps: { id: string; status: string }[] }[] };

for (const dialect of DIALECTS) {
  describe(`workflow escalate (${dialect})`, () => {
    let t: TestHub;
    let queue: Queue;
    const a = new LoopbackAdapter({ channel: 'alpha' });
    const post = async (body: unknown) => {
      const res = await fetch(`${t.hub.url}/api/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${EVENTS}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.equal(res.status, 202);
      return (await res.json()) as { id: string };
    };
    const status = async (id: string) => (await (await fetch(`${t.hub.url}/api/events/${id}`, { headers: { authorization: `Bearer ${EVENTS}` } })).json()) as EventStatus;
    const runEnds = (id: string, s: string) => until(async () => ((await status(id)).runs[0]?.status === s ? status(id) : undefined), 10_000, `run of ${id} ${s}`);
    const conversationOf = async (user: string) => {
      const identity = await t.hub.storage.customers.findIdentity('alpha', user);
      assert.ok(identity, `identity of ${user}`);
      const convs = await t.hub.storage.conversations.ofCustomer(identity.customerId);
      assert.equal(convs.length, 1);
      return convs[0]!;
    };

    before(async () => {
      t = await startTestHub({ dialect, adapters: [a], configDir: configDir(), config: { api: { tokens: TOKENS } } });
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
  });
}
