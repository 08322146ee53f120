/**
 * The analytics module on a real hub (real Redis, both databases), wired as the lead wires it
 * (setupAnalytics through the hub's `subscribe` hook) with the default bearer-token guard: the
 * analytics feed builds the read models from a live conversation's events (answered, escalated,
 * resolved, CSAT); `/api/analytics/*` answers 401 without a token and 403 to an agent token;
 * CSV export; the dashboard and the queues board behind the same guard; a gap drafted once into
 * the pending answers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'csv-parse/sync';
import type { Responder } from '../../src/core/responder.js';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { hashToken } from '../../src/api/tokens.js';
import type { AnalyticsModule } from '../../src/hub/analytics.js';
import { wireAnalytics } from './wire.js';
import { DIALECTS } from '../helpers/env.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';

const ADMIN = 'sb_test_admin_token_for_analytics_0001';
const AGENT = 'sb_test_agent_token_for_analytics_0001';

const bot: Responder = {
  respond: async (turn) =>
    /person|人工/.test(turn.text)
      ? { kind: 'escalate', reason: 'asked_for_human', priority: 'normal' }
      : { kind: 'answer', text: `answer: ${turn.text}`, confidence: 0.2, entryIds: ['shipping'] },
};

for (const dialect of DIALECTS) {
  describe(`analytics API on a hub (${dialect})`, () => {
    let t: TestHub;
    let analytics: Promise<AnalyticsModule> | undefined;
    const a = new LoopbackAdapter({ channel: 'alpha' });
    const get = (path: string, token?: string) => fetch(`${t.hub.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    const today = () => new Date().toISOString().slice(0, 10);

    before(async () => {
      t = await startTestHub({
        dialect,
        adapters: [a],
        responder: bot,
        config: { api: { tokens: [{ name: 'admin1', roles: ['admin'], sha256: hashToken(ADMIN) }, { name: 'agent1', roles: ['agent'], sha256: hashToken(AGENT) }] }, analytics: { feedSeconds: 1 } },
        subscribe: (_subs, hub) => {
          analytics = wireAnalytics(hub);
        },
      });
      // A live conversation: a low-confidence answer, a hand-over, an agent's reply, resolution, CSAT 4.
      await a.receive('ana', 'when does my parcel ship', { locale: 'en' });
      await until(() => a.sent.some((m) => m.text?.startsWith('answer:')) || undefined, 10_000, 'the bot answering');
      await a.receive('ana', 'a person please');
      const identity = await t.hub.storage.customers.findIdentity('alpha', 'ana');
      assert.ok(identity);
      const conv = await until(async () => (await t.hub.storage.conversations.ofCustomer(identity.customerId)).find((c) => c.status === 'waiting_agent'), 10_000, 'the escalation');
      await t.hub.agentActions.reply(conv.id, { id: 'ag1', name: 'Dana' }, 'It ships tomorrow.', 'k1');
      await t.hub.agentActions.resolve(conv.id, { id: 'ag1', name: 'Dana' });
      await until(() => a.sent.some((m) => /1.*5/.test(m.text ?? '') && m.text !== 'It ships tomorrow.') || undefined, 10_000, 'the CSAT question');
      await a.receive('ana', '4');
      await until(async () => {
        const [c] = await t.hub.storage.analyticsKpis.recentCases({ from: 0, to: Date.now() + 86_400_000, bucket: 'day', offsetMinutes: 0, now: Date.now() }, 5);
        return c?.csatScore === 4 && c.agentFirstResponseMs !== null ? c : undefined;
      }, 20_000, 'the read model to see the CSAT (the feed runs every second here)');
    });
    after(async () => {
      await (await analytics)?.close();
      await t.stop();
    });

    it('builds the read models from the live events: one case, escalated, resolved, CSAT 4 of 1 asked', async () => {
      const r = await get(`/api/analytics/kpis?from=${today()}&to=${today()}`, ADMIN);
      assert.equal(r.status, 200);
      const body = (await r.json()) as { totals: Record<string, number | null> };
      assert.equal(body.totals.cases, 1);
      assert.equal(body.totals.escalated, 1);
      assert.equal(body.totals.resolved, 1);
      assert.equal(body.totals.csatAverage, 4);
      assert.equal(body.totals.csatResponseRate, 1);
      const times = (await (await get(`/api/analytics/response-times?from=${today()}&to=${today()}`, ADMIN)).json()) as { totals: { botFirstResponse: { count: number }; agentFirstResponse: { count: number } } };
      assert.equal(times.totals.botFirstResponse.count, 1);
      assert.equal(times.totals.agentFirstResponse.count, 1);
    });

    it('refuses without a token (401) and an agent token (403); bad ranges are 400 naming the field', async () => {
      for (const path of ['/api/analytics/kpis', '/api/analytics/gaps', '/api/analytics/volume?format=csv', '/console/dashboard', '/console/queues']) {
        const none = await get(path);
        assert.equal(none.status, 401, path);
        assert.equal((await get(path, AGENT)).status, 403, path);
      }
      const bad = await get('/api/analytics/kpis?from=yesterday', ADMIN);
      assert.equal(bad.status, 400);
      assert.match(((await bad.json()) as { error: string }).error, /^from: /);
      assert.equal((await get('/api/analytics/kpis?tz=Mars/Olympus', ADMIN)).status, 400);
    });

    it('exports any table as CSV (UTF-8 with a BOM, a header row, the same numbers)', async () => {
      const r = await get(`/api/analytics/kpis?from=${today()}&to=${today()}&format=csv`, ADMIN);
      assert.equal(r.status, 200);
      assert.match(r.headers.get('content-type') ?? '', /^text\/csv/);
      assert.match(r.headers.get('content-disposition') ?? '', /attachment; filename="analytics-kpis-/);
      const bytes = Buffer.from(await r.arrayBuffer());
      assert.deepEqual([...bytes.subarray(0, 3)], [0xef, 0xbb, 0xbf]);
      const rows = parse(bytes.subarray(3).toString('utf8'), { columns: true }) as Record<string, string>[];
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.channel, 'alpha');
      assert.equal(rows[0]?.cases, '1');
      assert.equal(rows[0]?.escalationRate, '1');
      const gaps = parse(await (await get(`/api/analytics/gaps?from=${today()}&to=${today()}&format=csv`, ADMIN)).text(), { columns: true }) as Record<string, string>[];
      assert.deepEqual(gaps.map((g) => g.examples).sort(), ['a person please', 'when does my parcel ship']);
      const conv = parse(await (await get(`/api/analytics/conversations?format=csv`, ADMIN)).text(), { columns: true }) as Record<string, string>[];
      assert.equal(conv[0]?.question, 'when does my parcel ship');
      assert.equal(conv[0]?.csatScore, '4');
    });

    it('drafts a knowledge entry from a gap cluster into the pending answers, once', async () => {
      const gaps = (await (await get(`/api/analytics/gaps?from=${today()}&to=${today()}`, ADMIN)).json()) as { clusters: { id: string; examples: string[]; agentAnswer: string | null }[] };
      const human = gaps.clusters.find((c) => c.examples[0] === 'a person please');
      assert.ok(human);
      assert.equal(human.agentAnswer, 'It ships tomorrow.');
      const post = (token: string) =>
        fetch(`${t.hub.url}/api/analytics/gaps/${human.id}/draft`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ from: today(), to: today() }) });
      assert.equal((await post(AGENT)).status, 403);
      const first = await post(ADMIN);
      assert.equal(first.status, 201);
      const drafted = (await first.json()) as { pendingAnswer: { id: number; question: string; answer: string; status: string } };
      assert.equal(drafted.pendingAnswer.question, 'a person please');
      assert.equal(drafted.pendingAnswer.answer, 'It ships tomorrow.');
      assert.equal(drafted.pendingAnswer.status, 'pending');
      assert.equal((await post(ADMIN)).status, 200);
      assert.equal((await t.hub.storage.pendingAnswers.list('pending')).length, 1);
    });

    it('serves the dashboard page, its modules (ECharts from node_modules) and the queues board to an admin', async () => {
      const page = await get('/console/dashboard', ADMIN);
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-security-policy') ?? '', /script-src 'self'/);
      assert.match(await page.text(), /\/console\/analytics\/assets\/app\.js/);
      const echarts = await get('/console/analytics/assets/echarts.js');
      assert.equal(echarts.status, 200);
      assert.match(echarts.headers.get('content-type') ?? '', /javascript/);
      assert.ok((await echarts.text()).length > 500_000);
      assert.doesNotMatch(await (await get('/console/analytics/assets/hooks.js')).text(), /from\s*["']preact["']/);
      assert.equal((await get('/console/analytics/assets/nope.js')).status, 404);
      const board = await get('/console/queues', ADMIN);
      assert.equal(board.status, 200);
      assert.match(await board.text(), /<div id="root">/);
      const queues = (await (await get('/console/queues/api/queues', ADMIN)).json()) as { queues: { name: string }[] };
      assert.ok(queues.queues.some((q) => q.name === 'events'), JSON.stringify(queues.queues.map((q) => q.name)));
    });
  });
}
