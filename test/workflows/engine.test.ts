/**
 * The workflow engine (issue #15) on a real hub, real Redis (BullMQ delayed jobs) and both
 * databases, with durations scaled to seconds: reminders go out once each, in order, not before
 * they are due; a later event cancels the pending ones; quiet hours defer a send (urgent ones go);
 * `if` branches; an `escalate` with no conversation fails the run with a clear error; an `ask` waits; a
 * `webhook` is POSTed signed and retried; a step job delivered again sends nothing twice; a worker
 * killed mid-run loses no step and sends nothing twice.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { WORKFLOWS_QUEUE } from '../../src/workflows/engine.js';
import { slotJobId } from '../../src/workflows/engine-slots.js';
import { DIALECTS, REDIS_URL } from '../helpers/env.js';
import { workflowConfigDir } from './config-dir.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';
import { startWorkerProcess } from '../helpers/spawn-worker.js';
import { tempDir } from '../helpers/temp-dir.js';

const EVENTS = generateToken();
const TOKENS = [{ name: 'crm', roles: ['events' as const], sha256: hashToken(EVENTS) }];

const hhmm = (ms: number): string => new Date(ms).toISOString().slice(11, 16);

function configDir(hookUrl: string): string {
  const { dir, wf } = workflowConfigDir('sb-wf-engine-');
  // The renewal reminder with days scaled to seconds: 3 s and 1 s before dueAt.
  writeFileSync(
    join(wf, 'renewal.yaml'),
    `kind: reminder
trigger:
  event: subscription.expiring
  data: { subscriptionId: string, plan: string, dueAt: datetime }
correlationKey: subscriptionId
events:
  subscription.renewed:
    data: { subscriptionId: string }
    correlationKey: subscriptionId
    cancels: [subscription.expiring]
steps:
  - id: wait-first
    wait: { until: "dueAt - 3s" }
  - id: remind-first
    send:
      text: { en: "First reminder: {{plan}}", zh: "第一次提醒：{{plan}}" }
  - id: wait-last
    wait: { until: "dueAt - 1s" }
  - id: remind-last
    send:
      text: { en: "Last reminder: {{plan}}", zh: "最后提醒：{{plan}}" }
`,
  );
  // Quiet hours around now (UTC): the plain send waits for their end, the urgent one goes.
  const now = Date.now();
  writeFileSync(
    join(wf, 'quiet.yaml'),
    `kind: alert
trigger:
  event: notice.posted
  data: { noticeId: string }
quietHours: { from: "${hhmm(now - 60_000)}", to: "${hhmm(now + 5 * 60_000)}" }
steps:
  - id: urgent
    send: { urgent: true, text: { en: "Urgent notice", zh: "紧急通知" } }
  - id: plain
    send: { text: { en: "Plain notice", zh: "普通通知" } }
`,
  );
  writeFileSync(
    join(wf, 'cases.yaml'),
    `kind: alert
trigger:
  event: case.flagged
  data: { caseId: string, score: integer }
steps:
  - id: check
    if: "score > 5"
    then:
      - id: to-desk
        escalate: { priority: high }
    else:
      - id: low
        send: { text: { en: "Low score", zh: "低分" } }
  - id: done-note
    send: { text: { en: "Case closed", zh: "结案" } }
`,
  );
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
      timeout: 1m
`,
  );
  writeFileSync(
    join(wf, 'hooks.yaml'),
    `kind: alert
trigger:
  event: payment.failed
  data: { paymentId: string }
steps:
  - id: tell-crm
    webhook: { url: "${hookUrl}", secret: "\${WF_TEST_HOOK_SECRET}" }
`,
  );
  return dir;
}

type Step = { id: string; action: string; status: string; dueAt: string | null; error?: string };
type EventStatus = { id: string; runs: { id: string; workflow: string; status: string; error?: string; steps: Step[] }[] };

for (const dialect of DIALECTS) {
  describe(`workflow engine (${dialect})`, () => {
    let t: TestHub;
    let queue: Queue;
    const a = new LoopbackAdapter({ channel: 'alpha' });
    const arrivals: { text: string; user: string; at: number }[] = [];
    const call = async (path: string, body?: unknown) => {
      const res = await fetch(`${t.hub.url}${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { authorization: `Bearer ${EVENTS}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as { id: string; runs: { id: string; workflow: string }[] } };
    };
    const status = async (id: string) => (await (await fetch(`${t.hub.url}/api/events/${id}`, { headers: { authorization: `Bearer ${EVENTS}` } })).json()) as EventStatus;
    const runEnds = (id: string, s: string) => until(async () => ((await status(id)).runs[0]?.status === s ? status(id) : undefined), 10_000, `run of ${id} ${s}`);
    const customer = (user: string) => ({ identities: [{ channel: 'alpha', id: user }], locale: 'en' });

    const hooks: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
    let receiver: Server;
    before(async () => {
      process.env.WF_TEST_HOOK_SECRET = 'whsec_workflow_test_0123456789';
      receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          hooks.push({ headers: req.headers, body });
          // The first POST is refused: the step is retried.
          res.statusCode = hooks.length === 1 ? 503 : 200;
          res.end();
        });
      });
      await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
      const hookUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const orig = a.send.bind(a);
      a.send = async (m) => {
        arrivals.push({ text: m.text ?? '', user: m.ref.chatId, at: Date.now() });
        return orig(m);
      };
      t = await startTestHub({ dialect, adapters: [a], configDir: configDir(hookUrl), config: { api: { tokens: TOKENS } } });
      queue = new Queue(WORKFLOWS_QUEUE, { connection: { url: REDIS_URL }, prefix: t.config.redis.prefix });
    });
    after(async () => {
      await queue.close();
      await t.stop();
      await new Promise((r) => receiver.close(r));
    });

    it('delivers each renewal reminder once, in order, not before it is due', async () => {
      const dueAt = Date.now() + 4000;
      const r = await call('/api/events', { type: 'subscription.expiring', customer: customer('alice'), data: { subscriptionId: 'sub-A', plan: 'Pro', dueAt: new Date(dueAt).toISOString() } });
      assert.equal(r.status, 202);
      const s = await runEnds(r.body.id, 'done');
      await until(() => arrivals.filter((x) => x.user === 'alice').length >= 2 || undefined);
      const mine = arrivals.filter((x) => x.user === 'alice');
      assert.deepEqual(mine.map((x) => x.text), ['First reminder: Pro', 'Last reminder: Pro']);
      assert.ok((mine[0]?.at ?? 0) >= dueAt - 3000 - 50, 'the first reminder waited until dueAt - 3s');
      assert.ok((mine[1]?.at ?? 0) >= dueAt - 1000 - 50, 'the last reminder waited until dueAt - 1s');
      const steps = s.runs[0]?.steps ?? [];
      assert.deepEqual(steps.map((x) => [x.id, x.action, x.status]), [
        ['wait-first', 'wait', 'done'],
        ['remind-first', 'send', 'done'],
        ['wait-last', 'wait', 'done'],
        ['remind-last', 'send', 'done'],
      ]);
      assert.equal(steps[0]?.dueAt, new Date(dueAt - 3000).toISOString());

      // A step's job delivered again (a redelivery, a lost ack) sends nothing twice.
      const runId = s.runs[0]?.id ?? '';
      await queue.add('step', { runId, stepId: 'remind-first' }, { jobId: `${runId}/remind-first` });
      await until(async () => {
        const c = await queue.getJobCounts('wait', 'active');
        return (c.wait ?? 0) + (c.active ?? 0) === 0 || undefined;
      });
      await new Promise((res) => setTimeout(res, 300));
      assert.equal(arrivals.filter((x) => x.user === 'alice').length, 2);
    });

    it('subscription.renewed cancels the pending reminder of the same subscription', async () => {
      const dueAt = Date.now() + 3000;
      const r = await call('/api/events', { type: 'subscription.expiring', customer: customer('erin'), data: { subscriptionId: 'sub-B', plan: 'Max', dueAt: new Date(dueAt).toISOString() } });
      // Another subscription's run is not touched.
      const other = await call('/api/events', { type: 'subscription.expiring', customer: customer('frank'), data: { subscriptionId: 'sub-C', plan: 'Max', dueAt: new Date(dueAt).toISOString() } });
      await until(() => arrivals.some((x) => x.user === 'erin') || undefined);
      const runId = r.body.runs[0]?.id ?? '';
      await until(async () => (await status(r.body.id)).runs[0]?.steps.some((x) => x.id === 'wait-last' && x.status === 'scheduled') || undefined);
      const renewed = await call('/api/events', { type: 'subscription.renewed', customer: customer('erin'), data: { subscriptionId: 'sub-B' } });
      assert.equal(renewed.status, 202);
      assert.deepEqual(renewed.body.runs, []);
      const s = await status(r.body.id);
      assert.equal(s.runs[0]?.status, 'cancelled');
      assert.equal(s.runs[0]?.steps.find((x) => x.id === 'wait-last')?.status, 'cancelled');
      // The wait has no job of its own: its second's due slot (shared) finds the row cancelled and sends nothing (below).
      assert.equal(await queue.getJob(`${runId}/wait-last`), undefined);
      assert.ok(await queue.getJob(slotJobId(dueAt - 1000)).then((j) => j?.isDelayed()), "the wait's due slot is a delayed job");
      await runEnds(other.body.id, 'done');
      await until(() => arrivals.filter((x) => x.user === 'frank').length >= 2 || undefined);
      await new Promise((res) => setTimeout(res, Math.max(0, dueAt - Date.now()) + 300));
      assert.deepEqual(arrivals.filter((x) => x.user === 'erin').map((x) => x.text), ['First reminder: Max']);
      assert.equal(arrivals.filter((x) => x.user === 'frank').length, 2);
    });

    it('quiet hours defer a plain send until their end; an urgent one goes out', async () => {
      const r = await call('/api/events', { type: 'notice.posted', customer: customer('gina'), data: { noticeId: 'n-1' } });
      await until(() => arrivals.some((x) => x.user === 'gina') || undefined);
      const s = await until(async () => {
        const v = await status(r.body.id);
        return v.runs[0]?.steps.find((x) => x.id === 'plain')?.status === 'scheduled' ? v : undefined;
      });
      const plain = s.runs[0]?.steps.find((x) => x.id === 'plain');
      const due = Date.parse(plain?.dueAt ?? '');
      assert.ok(due > Date.now() + 3 * 60_000, `deferred to the end of the quiet hours (${plain?.dueAt})`);
      assert.equal(new Date(due).getUTCSeconds(), 0);
      assert.equal(s.runs[0]?.status, 'running');
      assert.ok(await queue.getJob(slotJobId(due)).then((j) => j?.isDelayed()), "the send waits for its due slot's delayed job");
      assert.deepEqual(arrivals.filter((x) => x.user === 'gina').map((x) => x.text), ['Urgent notice']);
    });

    it('if branches on event data; an escalate with no conversation to hand over fails the run with a clear error; an ask waits', async () => {
      const low = await call('/api/events', { type: 'case.flagged', customer: customer('hank'), data: { caseId: 'c-1', score: 2 } });
      const lowRun = await runEnds(low.body.id, 'done');
      assert.deepEqual(lowRun.runs[0]?.steps.map((x) => x.id), ['check', 'low', 'done-note']);
      // A send step is done once its message is queued; the platform gets it a moment later.
      await until(() => arrivals.filter((x) => x.user === 'hank').length >= 2 || undefined);
      assert.deepEqual(arrivals.filter((x) => x.user === 'hank').map((x) => x.text), ['Low score', 'Case closed']);
      const high = await call('/api/events', { type: 'case.flagged', customer: customer('ivy'), data: { caseId: 'c-2', score: 9 } });
      const highRun = await runEnds(high.body.id, 'failed');
      assert.match(highRun.runs[0]?.error ?? '', /no conversation to hand over/);
      assert.equal(highRun.runs[0]?.steps.find((x) => x.id === 'to-desk')?.status, 'failed');
      assert.equal(arrivals.filter((x) => x.user === 'ivy').length, 0);
      // An ask sends its question and waits (scheduled until its timeout) for the answer.
      const ask = await call('/api/events', { type: 'login.seen', customer: customer('jo'), data: { loginId: 'l-1' } });
      const askRun = await until(async () => {
        const v = await status(ask.body.id);
        return v.runs[0]?.steps[0]?.status === 'scheduled' ? v : undefined;
      });
      assert.equal(askRun.runs[0]?.status, 'running');
      assert.ok(Date.parse(askRun.runs[0]?.steps[0]?.dueAt ?? '') > Date.now() + 30_000, 'waits until the 1m timeout');
      await until(() => arrivals.some((x) => x.user === 'jo') || undefined);
      assert.deepEqual(arrivals.filter((x) => x.user === 'jo').map((x) => x.text), ['Was this you? 1 Yes 2 No']);
    });

    it('webhook POSTs the run signed like the outgoing webhooks, retried after a refusal', async () => {
      const r = await call('/api/events', { type: 'payment.failed', customer: customer('kai'), data: { paymentId: 'p-9' } });
      const s = await runEnds(r.body.id, 'done');
      assert.equal(s.runs[0]?.steps[0]?.status, 'done');
      assert.equal(hooks.length, 2);
      const last = hooks[1];
      const body = JSON.parse(last?.body ?? '{}') as { workflow: string; step: string; event: { type: string; data: unknown } };
      assert.equal(body.workflow, 'hooks');
      assert.equal(body.step, 'tell-crm');
      assert.deepEqual(body.event.data, { paymentId: 'p-9' });
      assert.equal(last?.headers['switchboard-event-id'], `${s.runs[0]?.id ?? ''}/tell-crm`);
      const sig = String(last?.headers['switchboard-signature']);
      const [, ts, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig) ?? [];
      assert.equal(v1, createHmac('sha256', 'whsec_workflow_test_0123456789').update(`${ts}.${last?.body ?? ''}`).digest('hex'));
      hooks.length = 0;
    });
  });
}

describe('workflow engine across a worker crash (postgres)', () => {
  it('a worker killed mid-run loses no step and sends nothing twice: another worker finishes the run', { timeout: 60_000 }, async () => {
    const dir = tempDir('sb-wf-crash-');
    writeFileSync(join(dir, '_defaults.yaml'), 'timezone: UTC\nquietHours: off\nchannels: [preferred]\n');
    writeFileSync(
      join(dir, 'orders.yaml'),
      `kind: reminder
trigger:
  event: order.placed
  data: { orderId: string }
steps:
  - send: { text: { en: "one {{orderId}}", zh: "一 {{orderId}}" } }
  - wait: { for: 2s }
  - send: { text: { en: "two {{orderId}}", zh: "二 {{orderId}}" } }
  - wait: { for: 1s }
  - send: { text: { en: "three {{orderId}}", zh: "三 {{orderId}}" } }
`,
    );
    // This process serves the API only (role gateway); the steps run in worker processes.
    const t = await startTestHub({ dialect: 'postgres', role: 'gateway', config: { api: { tokens: TOKENS }, workflows: { dir }, queues: { lockMs: 1500 } } });
    const redis = new Redis(REDIS_URL);
    const children: import('node:child_process').ChildProcess[] = [];
    try {
      const json = JSON.stringify(t.config);
      const first = await startWorkerProcess(json);
      children.push(first);
      const sentKey = `${t.config.redis.prefix}:sent`;
      const sent = async () => (await redis.lrange(sentKey, 0, -1)).map((x) => (JSON.parse(x) as { text: string }).text);
      const res = await fetch(`${t.hub.url}/api/events`, {
        method: 'POST',
        headers: { authorization: `Bearer ${EVENTS}`, 'content-type': 'application/json' },
        body: JSON.stringify({ type: 'order.placed', customer: { identities: [{ channel: 'rec', id: 'kim' }], locale: 'en' }, data: { orderId: 'o-1' } }),
      });
      assert.equal(res.status, 202);
      const { id } = (await res.json()) as { id: string };
      await until(async () => (await sent()).length >= 1 || undefined, 15_000, 'the first message');
      const died = new Promise((r) => first.once('exit', r));
      first.kill('SIGKILL');
      await died;
      children.push(await startWorkerProcess(json));
      const done = await until(async () => {
        const s = (await (await fetch(`${t.hub.url}/api/events/${id}`, { headers: { authorization: `Bearer ${EVENTS}` } })).json()) as EventStatus;
        return s.runs[0]?.status === 'done' ? s : undefined;
      }, 20_000, 'the run to finish on the second worker');
      assert.deepEqual(done.runs[0]?.steps.map((x) => x.status), ['done', 'done', 'done', 'done', 'done']);
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(await sent(), ['one o-1', 'two o-1', 'three o-1']);
    } finally {
      for (const c of children) c.kill('SIGKILL');
      redis.disconnect();
      await t.stop();
    }
  });
});
