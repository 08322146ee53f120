/**
 * The workflow sweep (issue #15) on a real hub, real Redis and both databases: a step whose job was
 * lost (a crash between a commit and its enqueue, a delayed job gone from Redis, an ask's timeout
 * job gone) is queued again by the engine's job scheduler and runs once; a sweep with nothing lost
 * queues nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { WORKFLOWS_QUEUE, WORKFLOWS_SWEEP_QUEUE, type WorkflowEngine } from '../../src/workflows/engine.js';
import { slotJobId } from '../../src/workflows/engine-slots.js';
import { DIALECTS, REDIS_URL } from '../helpers/env.js';
import { workflowConfigDir } from './config-dir.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';

function configDir(): string {
  const { dir, wf } = workflowConfigDir('sb-wf-sweep-');
  writeFileSync(
    join(wf, 'hello.yaml'),
    `kind: alert
trigger:
  event: hello.said
  data: { helloId: string }
steps:
  - id: greet
    send: { text: { en: "Hello", zh: "你好" } }
`,
  );
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
    send: { text: { en: "Later", zh: "稍后" } }
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
      timeout: 1s
    on:
      timeout:
        - id: no-answer
          send: { text: { en: "No answer", zh: "没有回答" } }
`,
  );
  return dir;
}

for (const dialect of DIALECTS) {
  describe(`workflow sweep (${dialect})`, () => {
    let t: TestHub;
    let queue: Queue;
    let engine: WorkflowEngine;
    const a = new LoopbackAdapter({ channel: 'alpha' });
    const sent = (user: string) => a.sent.filter((m) => m.ref.chatId === user).map((m) => m.text);
    const customer = (user: string) => ({ identities: [{ channel: 'alpha', id: user }], locale: 'en' });
    const runStatus = async (runId: string) => (await engine.repo.run(runId))?.status;

    before(async () => {
      // Sweep every second, for steps untouched (or overdue) for a second.
      t = await startTestHub({ dialect, adapters: [a], configDir: configDir(), sweepAfterMs: 1000 });
      const e = t.hub.workflows.engine;
      assert.ok(e, 'the engine is loaded');
      engine = e;
      queue = new Queue(WORKFLOWS_QUEUE, { connection: { url: REDIS_URL }, prefix: t.config.redis.prefix });
    });
    after(async () => {
      await queue.close();
      await t.stop();
    });

    it('runs the step of an event committed without its job (a crash before the enqueue) once', async () => {
      // The customer exists through a first, ordinary event.
      const first = await engine.accept({ type: 'hello.said', customer: customer('ann'), data: { helloId: 'h-1' } }, 'sweep-h-1');
      await until(async () => (await runStatus(first.runs[0]?.id ?? '')) === 'done' || undefined);
      await until(() => sent('ann').length === 1 || undefined);
      assert.deepEqual(sent('ann'), ['Hello']);
      const sweeps = new Queue(WORKFLOWS_SWEEP_QUEUE, { connection: { url: REDIS_URL }, prefix: t.config.redis.prefix });
      assert.ok((await sweeps.getJobSchedulers()).some((s) => s.key === 'sweep'), 'the sweep is a job scheduler');
      await sweeps.close();
      // The crash: the event and its run are committed, the first step's job never queued.
      const stored = await engine.repo.insertEvent(
        { type: 'hello.said', idempotencyKey: 'sweep-h-2', requestHash: 'x', customerId: first.event.customerId, correlationValue: null, data: { helloId: 'h-2' }, locale: 'en', timezone: null },
        [{ workflow: 'hello', version: '', correlationValue: null, firstStep: 'greet' }],
      );
      const runId = stored.runs[0]?.id ?? '';
      assert.equal(await queue.getJob(`${runId}/greet`), undefined);
      await until(async () => (await runStatus(runId)) === 'done' || undefined, 15_000, 'the swept run done');
      await until(() => sent('ann').length === 2 || undefined);
      assert.deepEqual(sent('ann'), ['Hello', 'Hello'], 'the lost step sent once');
      // Nothing lost: a sweep queues nothing, sends nothing.
      assert.equal(await engine.sweep(0), 0);
      assert.equal((await engine.repo.step(runId, 'greet'))?.status, 'done');
      assert.deepEqual(sent('ann'), ['Hello', 'Hello']);
    });

    it('queues again a delayed step whose job is gone from Redis', async () => {
      const dueAt = Date.now() + 500;
      const r = await engine.accept({ type: 'later.due', customer: customer('ben'), data: { laterId: 'l-1', dueAt: new Date(dueAt).toISOString() } }, 'sweep-l-1');
      const runId = r.runs[0]?.id ?? '';
      await until(async () => (await engine.repo.step(runId, 'pause'))?.status === 'scheduled' || undefined);
      const row = await engine.repo.step(runId, 'pause');
      const job = await until(async () => {
        const j = await queue.getJob(slotJobId(row?.dueAt ?? 0));
        return (await j?.isDelayed()) ? j : undefined;
      });
      await job.remove();
      await until(async () => (await runStatus(runId)) === 'done' || undefined, 15_000, 'the swept wait done');
      await until(() => sent('ben').length === 1 || undefined);
      assert.deepEqual(sent('ben'), ['Later']);
      assert.ok(Date.now() >= dueAt);
    });

    it("queues again an ask's lost timeout job: the timeout branch runs once", async () => {
      const r = await engine.accept({ type: 'question.asked', customer: customer('cat'), data: { questionId: 'q-1' } }, 'sweep-q-1');
      const runId = r.runs[0]?.id ?? '';
      await until(async () => (await engine.repo.step(runId, 'q'))?.status === 'scheduled' || undefined);
      const job = await until(() => queue.getJob(`${runId}/q/timeout`));
      await job.remove();
      await until(async () => (await runStatus(runId)) === 'done' || undefined, 15_000, 'the swept ask done');
      await until(() => sent('cat').length === 2 || undefined);
      assert.deepEqual(sent('cat'), ['Yes? 1 Yes 2 No', 'No answer']);
      assert.equal((await engine.repo.step(runId, 'q'))?.result?.answer, 'timeout');
    });
  });
}
