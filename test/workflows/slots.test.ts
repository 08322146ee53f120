/**
 * Due slots (src/workflows/engine-slots.ts): the waits due in one second share one delayed job, each
 * step runs once (also when the slot job runs twice), and a slot reads its second a page at a time,
 * leaves a sent ask to its timeout and queues a step whose batch threw as a job of its own.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { pino } from 'pino';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { WORKFLOWS_QUEUE, type WorkflowEngine } from '../../src/workflows/engine.js';
import { runSlot, slotFor, slotJobId, slotOf, SLOT_MS } from '../../src/workflows/engine-slots.js';
import type { StepJob } from '../../src/workflows/engine-sweep.js';
import { DIALECTS, REDIS_URL } from '../helpers/env.js';
import { workflowConfigDir } from './config-dir.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';

function configDir(): string {
  const { dir, wf } = workflowConfigDir('sb-wf-slots-');
  writeFileSync(
    join(wf, 'later.yaml'),
    `kind: reminder
trigger:
  event: later.due
  data: { laterId: string, dueAt: datetime }
steps:
  - id: pause
    wait: { until: "dueAt" }
  - id: remind
    send: { text: { en: "Later {{laterId}}", zh: "稍后 {{laterId}}" } }
`,
  );
  writeFileSync(
    join(wf, 'question.yaml'),
    `kind: alert
trigger:
  event: question.asked
  data: { questionId: string }
steps:
  - id: q
    ask:
      text: { en: "Yes? 1 Yes 2 No", zh: "是吗？1 是 2 不是" }
      choices: { yes: ["1"], no: ["2"] }
      timeout: 1h
    on:
      yes:
        - id: thanks
          send: { text: { en: "Thanks", zh: "谢谢" } }
`,
  );
  return dir;
}

for (const dialect of DIALECTS) {
  describe(`workflow due slots (${dialect})`, () => {
    let t: TestHub;
    let queue: Queue;
    let engine: WorkflowEngine;
    const a = new LoopbackAdapter({ channel: 'alpha' });
    const sent = (user: string) => a.sent.filter((m) => m.ref.chatId === user).map((m) => m.text);
    const customer = (user: string) => ({ identities: [{ channel: 'alpha', id: user }], locale: 'en' });
    const scheduled = (runId: string) => until(async () => ((await engine.repo.step(runId, 'pause'))?.status === 'scheduled' ? true : undefined));

    before(async () => {
      t = await startTestHub({ dialect, adapters: [a], configDir: configDir() });
      const e = t.hub.workflows.engine;
      assert.ok(e, 'the engine is loaded');
      engine = e;
      queue = new Queue(WORKFLOWS_QUEUE, { connection: { url: REDIS_URL }, prefix: t.config.redis.prefix });
    });
    after(async () => {
      await queue.close();
      await t.stop();
    });

    it('waits due in one second share one delayed job; each step runs once, also when the slot job runs twice', async () => {
      // Due 200 ms before a second's end, two seconds or more ahead.
      const dueAt = slotOf(Date.now() + 2000) + SLOT_MS - 200;
      const users = ['s1', 's2', 's3', 's4', 's5'];
      const runIds: string[] = [];
      for (const u of users) {
        const r = await engine.accept({ type: 'later.due', customer: customer(u), data: { laterId: u, dueAt: new Date(dueAt).toISOString() } }, `slots-${u}`);
        runIds.push(r.runs[0]?.id ?? '');
      }
      for (const id of runIds) await scheduled(id);
      for (const id of runIds) assert.equal(await queue.getJob(`${id}/pause`), undefined, 'a wait has no job of its own');
      assert.equal((await queue.getJobCounts('delayed')).delayed, 1, 'one delayed job for the five waits');
      const slot = await queue.getJob(slotJobId(dueAt));
      assert.ok(await slot?.isDelayed(), "the second's slot job is delayed");
      assert.deepEqual(slot?.data, { slot: slotOf(dueAt), width: SLOT_MS });
      assert.equal(slotOf(dueAt) - dueAt, 200, 'the slot is the end of the second the waits are due in');
      // The same slot delivered twice (a redelivery, another worker): nothing runs twice.
      await queue.add('slot', slotFor(dueAt), { jobId: 'slot-again', delay: Math.max(0, slotOf(dueAt) - Date.now()) });

      await until(() => users.every((u) => sent(u).length === 1) || undefined, 15_000, 'every reminder sent');
      assert.ok(Date.now() >= dueAt, 'not before the due time');
      await until(async () => ((await queue.getJobCounts('wait', 'active', 'delayed')) as Record<string, number>).delayed === 0 || undefined);
      await until(async () => {
        const c = await queue.getJobCounts('wait', 'active');
        return (c.wait ?? 0) + (c.active ?? 0) === 0 || undefined;
      });
      for (const id of runIds) await until(async () => ((await engine.repo.run(id))?.status === 'done' ? true : undefined));
      await new Promise((r) => setTimeout(r, 300));
      for (const u of users) assert.deepEqual(sent(u), [`Later ${u}`], `${u} got one reminder`);
    });

    it('a slot reads its second a page at a time, leaves a sent ask to its timeout, and queues a step whose batch threw as a job of its own', async () => {
      const dueAt = Date.now() + 3_600_000;
      const runIds: string[] = [];
      for (const u of ['p1', 'p2', 'p3', 'p4', 'p5']) {
        const r = await engine.accept({ type: 'later.due', customer: customer(u), data: { laterId: u, dueAt: new Date(dueAt).toISOString() } }, `slots-page-${u}`);
        runIds.push(r.runs[0]?.id ?? '');
      }
      for (const id of runIds) await scheduled(id);
      const pages: string[][] = [];
      const enqueued: StepJob[] = [];
      const throwing = [...runIds].sort()[2];
      const handed = await runSlot(
        {
          storage: t.hub.storage,
          versions: engine.versions,
          run: async (steps) => {
            pages.push(steps.map((s) => s.runId));
            return steps.map((s) => (s.runId === throwing ? { status: 'rejected', reason: new Error('database down') } : { status: 'fulfilled', value: undefined }));
          },
          enqueue: async (steps) => void enqueued.push(...steps),
          log: pino({ level: 'silent' }),
        },
        slotFor(dueAt),
        2,
      );
      assert.equal(handed, 5);
      assert.deepEqual(pages.map((p) => p.length), [2, 2, 1], 'pages of two');
      assert.deepEqual(pages.flat(), [...runIds].sort(), 'each scheduled step once, in (due_at, run_id) order');
      assert.deepEqual(enqueued, [{ runId: throwing, stepId: 'pause' }]);

      // An ask that was sent waits for its answer or its timeout job, not for the slot of its timeout.
      const q = await engine.accept({ type: 'question.asked', customer: customer('p6'), data: { questionId: 'q-1' } }, 'slots-ask');
      const askRun = q.runs[0]?.id ?? '';
      const asked = await until(async () => {
        const row = await engine.repo.step(askRun, 'q');
        return row?.status === 'scheduled' && typeof row.result?.sendId === 'string' ? row : undefined;
      });
      const seen: StepJob[] = [];
      await runSlot({ storage: t.hub.storage, versions: engine.versions, run: async (steps) => (seen.push(...steps), steps.map(() => ({ status: 'fulfilled', value: undefined }))), enqueue: async () => undefined, log: pino({ level: 'silent' }) }, slotFor(asked.dueAt ?? 0));
      assert.deepEqual(seen.filter((s) => s.runId === askRun), []);
      assert.ok(await queue.getJob(`${askRun}/q/timeout`), 'the ask keeps its timeout job');
    });
  });
}
