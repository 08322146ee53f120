/**
 * Workflows, the rest of issue #15, on a real hub, real Redis and both databases:
 * - hot reload: a changed file takes effect for new runs while a running run finishes on the
 *   version it started with, in this process and after a restart into a folder that no longer has
 *   it; a file that does not load is refused (the last good version stays);
 * - cron triggers: a BullMQ job scheduler per cron workflow starts one customer-less run per tick
 *   (a signed webhook); a reload that drops the workflow removes its scheduler;
 * - per-channel rate limits: sends over `workflows.sendsPerSecond` wait for their slot.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { WORKFLOWS_SCHEDULE_QUEUE } from '../../src/workflows/schedules.js';
import { DIALECTS, REDIS_URL } from '../helpers/env.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';
import { workflowConfigDir } from './config-dir.js';

const EVENTS = generateToken();
const TOKENS = [{ name: 'crm', roles: ['events' as const], sha256: hashToken(EVENTS) }];

const notice = (text: string, waitFor: string | null = '1s') => `kind: reminder
trigger:
  event: notice.posted
  data: { noticeId: string }
steps:
${waitFor === null ? '' : `  - id: pause\n    wait: { for: ${waitFor} }\n`}  - id: tell
    send: { text: { en: "${text} {{noticeId}}", zh: "${text} {{noticeId}}" } }
`;

type EventStatus = { id: string; runs: { id: string; workflow: string; status: string; error?: string; steps: { id: string; status: string }[] }[] };

function harness() {
  const a = new LoopbackAdapter({ channel: 'alpha' });
  const arrivals: { text: string; user: string; at: number }[] = [];
  const orig = a.send.bind(a);
  a.send = async (m) => {
    arrivals.push({ text: m.text ?? '', user: m.ref.chatId, at: Date.now() });
    return orig(m);
  };
  const post = async (t: TestHub, body: unknown) => {
    const res = await fetch(`${t.hub.url}/api/events`, { method: 'POST', headers: { authorization: `Bearer ${EVENTS}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { id: string; error?: string } };
  };
  const status = async (t: TestHub, id: string) => (await (await fetch(`${t.hub.url}/api/events/${id}`, { headers: { authorization: `Bearer ${EVENTS}` } })).json()) as EventStatus;
  const noticeFor = (user: string, noticeId: string) => ({ type: 'notice.posted', customer: { identities: [{ channel: 'alpha', id: user }], locale: 'en' }, data: { noticeId } });
  return { a, arrivals, post, status, noticeFor };
}

for (const dialect of DIALECTS) {
  describe(`workflows hot reload (${dialect})`, () => {
    const h = harness();
    const { dir, wf } = workflowConfigDir('sb-wf-reload-');
    let t: TestHub;
    before(async () => {
      writeFileSync(join(wf, 'notice.yaml'), notice('Version one'));
      t = await startTestHub({ dialect, adapters: [h.a], configDir: dir, config: { api: { tokens: TOKENS }, workflows: { reloadDebounceMs: 50 } } });
    });
    after(async () => t.stop());

    it('a changed file starts new runs on it; a running run finishes on its own version', async () => {
      const first = await h.post(t, h.noticeFor('ann', 'n1'));
      assert.equal(first.status, 202);
      writeFileSync(join(wf, 'notice.yaml'), notice('Version two'));
      // The watcher loads the changed folder by itself.
      await until(() => t.hub.workflows.engine?.versions.loaded.sources.get('notice')?.source.includes('Version two') || undefined, 10_000, 'the reload');
      const second = await h.post(t, h.noticeFor('bob', 'n2'));
      await until(() => h.arrivals.some((x) => x.user === 'bob') || undefined, 10_000, "bob's notice");
      await until(() => h.arrivals.some((x) => x.user === 'ann') || undefined, 10_000, "ann's notice");
      assert.deepEqual(h.arrivals.filter((x) => x.user === 'ann').map((x) => x.text), ['Version one n1'], 'the run started before the change finished on its version');
      assert.deepEqual(h.arrivals.filter((x) => x.user === 'bob').map((x) => x.text), ['Version two n2']);
      // The run is done once the send is recorded, a moment after the platform got it.
      await until(async () => ((await h.status(t, second.body.id)).runs[0]?.status === 'done') || undefined, 10_000, "bob's run done");
    });

    it('a file that does not load is refused: the last good version stays', async () => {
      writeFileSync(join(wf, 'notice.yaml'), notice('Version three').replace('wait: { for: 1s }', 'wait: { for: soon }'));
      assert.equal(await t.hub.workflows.reload(), false);
      const r = await h.post(t, h.noticeFor('cat', 'n3'));
      assert.equal(r.status, 202);
      await until(() => h.arrivals.some((x) => x.user === 'cat') || undefined, 10_000, "cat's notice");
      assert.deepEqual(h.arrivals.filter((x) => x.user === 'cat').map((x) => x.text), ['Version two n3']);
    });

    it('after a restart into a folder without its version, a running run still finishes on it', async () => {
      writeFileSync(join(wf, 'notice.yaml'), notice('Version four', '3s'));
      assert.equal(await t.hub.workflows.reload(), true);
      const r = await h.post(t, h.noticeFor('dan', 'n4'));
      assert.equal(r.status, 202);
      await until(async () => ((await h.status(t, r.body.id)).runs[0]?.steps.find((s) => s.id === 'pause')?.status === 'scheduled' ? true : undefined));
      // Stop (keeping Redis and the database), change the file, start again on the same ones.
      await t.hub.stop();
      writeFileSync(join(wf, 'notice.yaml'), notice('Version five'));
      const restarted = await startTestHub({ db: t.db, adapters: [h.a], configDir: dir, config: { api: { tokens: TOKENS }, redis: { prefix: t.config.redis.prefix } } });
      const stopFirst = t.stop; // its hub is stopped already: this cleans Redis and drops the database
      t = {
        ...restarted,
        stop: async () => {
          await restarted.stop();
          await stopFirst();
        },
      };
      await until(() => h.arrivals.some((x) => x.user === 'dan') || undefined, 15_000, "dan's notice");
      assert.deepEqual(h.arrivals.filter((x) => x.user === 'dan').map((x) => x.text), ['Version four n4']);
      const next = await h.post(t, h.noticeFor('eve', 'n5'));
      await until(() => h.arrivals.some((x) => x.user === 'eve') || undefined, 10_000, "eve's notice");
      assert.deepEqual(h.arrivals.filter((x) => x.user === 'eve').map((x) => x.text), ['Version five n5']);
      assert.equal(next.status, 202);
    });
  });
}

describe('cron triggers and per-channel rate limits', () => {
  const h = harness();
  const { dir, wf } = workflowConfigDir('sb-wf-cron-');
  const hooks: { headers: Record<string, string | string[] | undefined>; body: Record<string, unknown> }[] = [];
  let receiver: Server;
  let t: TestHub;
  before(async () => {
    process.env.WF_CRON_SECRET = 'whsec_cron_test_0123456789abcdef';
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        hooks.push({ headers: req.headers, body: JSON.parse(body) as Record<string, unknown> });
        res.end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/tick`;
    writeFileSync(
      join(wf, 'nightly.yaml'),
      `kind: reminder
trigger:
  cron: "*/2 * * * * *"
  timezone: Asia/Shanghai
steps:
  - id: ask-crm
    webhook: { url: "${url}", secret: "\${WF_CRON_SECRET}" }
`,
    );
    writeFileSync(join(wf, 'notice.yaml'), notice('Hello', null));
    writeFileSync(
      join(wf, 'late.yaml'),
      `kind: reminder
trigger:
  event: bill.due
  data: { billId: string, dueAt: datetime }
steps:
  - id: before
    send: { skipAfter: dueAt, text: { en: "Bill {{billId}} is due soon", zh: "账单 {{billId}} 即将到期" } }
  - id: after
    send: { text: { en: "Bill {{billId}}: thanks", zh: "账单 {{billId}}：谢谢" } }
`,
    );
    t = await startTestHub({ adapters: [h.a], configDir: dir, config: { api: { tokens: TOKENS }, workflows: { reloadDebounceMs: 50, sendsPerSecond: { alpha: 5 } } } });
  });
  after(async () => {
    await t.stop();
    await new Promise((r) => receiver.close(r));
  });

  it('a cron workflow runs on its schedule, without a customer, once per tick; dropping the file removes its schedule', async () => {
    await until(() => hooks.length >= 2 || undefined, 10_000, 'two ticks');
    const [one, two] = hooks;
    assert.equal(one?.body.workflow, 'nightly');
    assert.equal(one?.body.customer, null);
    assert.match(String(one?.headers['switchboard-signature']), /^t=\d+,v1=[0-9a-f]{64}$/);
    assert.notEqual((one?.body.event as { id: string }).id, (two?.body.event as { id: string }).id, 'one run per tick');
    const runs = await t.hub.storage.workflowRuns.runsOfEvent((one?.body.event as { id: string }).id);
    assert.equal(runs.length, 1);
    assert.equal(runs[0]?.customerId, null);

    const q = new Queue(WORKFLOWS_SCHEDULE_QUEUE, { connection: { url: REDIS_URL }, prefix: t.config.redis.prefix });
    try {
      assert.deepEqual((await q.getJobSchedulers()).map((s) => [s.key, s.pattern, s.tz]), [['cron:nightly', '*/2 * * * * *', 'Asia/Shanghai']]);
      rmSync(join(wf, 'nightly.yaml'));
      assert.equal(await t.hub.workflows.reload(), true);
      assert.deepEqual(await q.getJobSchedulers(), []);
    } finally {
      await q.close();
    }
  });

  it('a send past its skipAfter is skipped as stale (not sent late) and the run goes on', async () => {
    const r = await h.post(t, { type: 'bill.due', customer: { identities: [{ channel: 'alpha', id: 'late1' }], locale: 'en' }, data: { billId: 'b1', dueAt: new Date(Date.now() - 60_000).toISOString() } });
    assert.equal(r.status, 202);
    const s = await until(async () => {
      const v = await h.status(t, r.body.id);
      return v.runs[0]?.status === 'done' ? v : undefined;
    });
    await until(() => h.arrivals.some((x) => x.user === 'late1') || undefined);
    assert.deepEqual(h.arrivals.filter((x) => x.user === 'late1').map((x) => x.text), ['Bill b1: thanks']);
    const steps = (s.runs[0]?.steps ?? []) as { id: string; status: string; result?: { reason?: string } }[];
    assert.deepEqual(steps.map((x) => [x.id, x.status]), [['before', 'skipped'], ['after', 'done']]);
    assert.match(steps[0]?.result?.reason ?? '', /^stale: past dueAt \(/);
  });

  it('sends over a channel\'s sendsPerSecond wait for their slot, evenly', async () => {
    const users = Array.from({ length: 12 }, (_, i) => `rate${i}`);
    const started = Date.now();
    const posted = await Promise.all(users.map((u) => h.post(t, h.noticeFor(u, u))));
    assert.ok(posted.every((p) => p.status === 202));
    await until(() => users.every((u) => h.arrivals.some((x) => x.user === u)) || undefined, 15_000, 'every notice');
    const times = users.map((u) => h.arrivals.find((x) => x.user === u)?.at ?? 0).sort((x, y) => x - y);
    // 5 a second: 12 sends take at least 11 gaps of 200 ms (the first goes at once).
    assert.ok((times.at(-1) ?? 0) - started >= 11 * 200 - 100, `12 sends at 5/s took ${(times.at(-1) ?? 0) - started} ms`);
    // No second holds more than 5 (+1 for a boundary straddle).
    const perSecond = new Map<number, number>();
    for (const x of times) perSecond.set(Math.floor((x - started) / 1000), (perSecond.get(Math.floor((x - started) / 1000)) ?? 0) + 1);
    assert.ok([...perSecond.values()].every((n) => n <= 6), `per second: ${[...perSecond.values()].join(',')}`);
  });
});
