/**
 * The dashboard in real Chromium (playwright-core, /usr/bin/chromium) on a hub wired with a test
 * guard that lets in the browser holding a cookie the test sets (the console's sign-in is the
 * console's own test; once hub.ts wires analytics with the console's guard, the browser's admin
 * bearer header lets it in instead): the hand-checked history's numbers in the KPI cards, the ECharts charts
 * rendered (SVG) with the seeded numbers in their accessible descriptions, the gap and recent
 * tables, a gap drafted into the pending answers, a CSV download, Chinese for a zh-CN browser, and no page without the cookie.
 * UPDATE_SCREENSHOTS=1 also writes docs/img/console-dashboard.png.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext } from 'playwright-core';
import { chromiumSkip, launchChromium } from '../helpers/browser.js';
import { parse } from 'csv-parse/sync';
import { ManualClock } from '../../src/core/clock.js';
import { Storage } from '../../src/core/storage/storage.js';
import type { Guard } from '../../src/analytics/guard.js';
import type { AnalyticsModule } from '../../src/hub/analytics.js';
import { hashToken } from '../../src/api/tokens.js';
import { wireAnalytics } from './wire.js';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { History, at } from './history.js';
import { seedHistory } from './seed.js';

const skip = chromiumSkip;
const COOKIE = { name: 'sb_test_admin', value: 'yes' };
const RANGE = '?from=2026-11-01&to=2026-11-03&tz=UTC';
/** For a hub that wires analytics itself with the console's guard (cookie or bearer). */
const ADMIN = 'sb_test_admin_token_for_dashboard_01';

/** Lets in a request carrying the test's cookie; 401 otherwise. */
const cookieGuard: Guard = async (request, reply) => {
  if ((request.headers.cookie ?? '').split(/;\s*/).includes(`${COOKIE.name}=${COOKIE.value}`)) return true;
  await reply.code(401).send({ error: 'sign in first' });
  return false;
};

describe('analytics dashboard in Chromium', { skip }, () => {
  let t: TestHub;
  let analytics: Promise<AnalyticsModule> | undefined;
  let browser: Browser;

  async function context(locale: string): Promise<BrowserContext> {
    const ctx = await browser.newContext({ locale, viewport: { width: 1280, height: 900 }, acceptDownloads: true, extraHTTPHeaders: { authorization: `Bearer ${ADMIN}` } });
    await ctx.addCookies([{ ...COOKIE, url: t.hub.url }]);
    return ctx;
  }

  before(async () => {
    t = await startTestHub({
      adapters: [new LoopbackAdapter({ channel: 'alpha' })],
      config: { api: { tokens: [{ name: 'admin1', roles: ['admin'], sha256: hashToken(ADMIN) }] } },
      subscribe: (_subs, hub) => {
        analytics = wireAnalytics(hub, cookieGuard);
      },
    });
    // The hand-checked history (test/analytics/seed.ts), written with a clock of its own.
    const clock = new ManualClock(at('2026-11-01T00:00:00Z'));
    const storage = await Storage.open(t.db.url, { clock });
    try {
      await seedHistory(new History(storage, clock));
    } finally {
      await storage.close();
    }
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await (await analytics)?.close();
    await t?.stop();
  });

  it('shows the seeded numbers in cards, charts and tables; exports CSV', async () => {
    const ctx = await context('en-US');
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${t.hub.url}/console/dashboard${RANGE}`);
    await page.locator('[data-kpi="cases"] dd').filter({ hasText: '4' }).waitFor({ timeout: 15_000 });
    const card = (id: string) => page.locator(`[data-kpi="${id}"] dd`).innerText();
    assert.equal(await card('bot-resolution'), '25%');
    assert.equal(await card('escalation'), '50%');
    assert.equal(await card('fcr'), '50%');
    assert.equal(await card('csat'), '5 (answered 100%)');
    assert.equal(await card('bot-first'), '2.5 s');
    assert.equal(await card('agent-first'), '21 min');
    assert.equal(await card('resolution'), '45 min');

    // Charts: ECharts drew SVG, and its description carries the numbers.
    for (const id of ['volume', 'rates', 'times', 'csat', 'reasons']) assert.ok((await page.locator(`#${id} svg path`).count()) > 0, `${id} drew nothing`);
    const label = (id: string) => page.locator(`#${id}`).getAttribute('aria-label').then((x) => x ?? '');
    const volume = await label('volume');
    assert.match(volume, /Messages by channel/);
    assert.match(volume, /telegram.*2026-11-01.*4/s);
    assert.match(volume, /webchat.*2026-11-03.*5/s);
    assert.match(await label('rates'), /Escalated.*2026-11-01.*50/s);
    assert.match(await label('csat'), /Average score.*2026-11-01.*5/s);
    assert.match(await label('reasons'), /Asked for a person.*1/s);

    assert.equal(await page.locator('#gaps tbody tr').count(), 3);
    assert.equal(await page.locator('#recent tbody tr').count(), 4);
    assert.match(await page.locator('#recent tbody tr').first().innerText(), /where is my invoice/);

    // Draft entry: the cluster goes into the pending answers, with the agent's reply as the answer.
    const invoice = page.locator('#gaps tbody tr', { hasText: 'where is my invoice' });
    await invoice.getByRole('button', { name: 'Draft entry' }).click();
    await invoice.getByRole('status').filter({ hasText: /^Drafted: pending answer #\d+$/ }).waitFor({ timeout: 10_000 });
    const [pending] = await t.hub.storage.pendingAnswers.list('pending');
    assert.equal(pending?.question, 'where is my invoice');
    assert.equal(pending?.answer, 'Invoices are under Account > Billing.');

    // The volume chart's CSV link, fetched as the browser's context (its sign-in) fetches it.
    const link = page.locator('figure:has(#volume) a.csv');
    assert.equal(await link.getAttribute('download'), '');
    const csv = await page.request.get(new URL((await link.getAttribute('href')) ?? '', t.hub.url).toString());
    assert.equal(csv.status(), 200);
    assert.match(csv.headers()['content-disposition'] ?? '', /^attachment; filename="analytics-volume-2026-11-01\.csv"$/);
    const rows = parse((await csv.text()).replace(/^\uFEFF/, ''), { columns: true }) as Record<string, string>[];
    assert.deepEqual(rows.find((r) => r.day === '2026-11-03'), { day: '2026-11-03', channel: 'webchat', inbound: '2', outbound: '3' });

    if (process.env.UPDATE_SCREENSHOTS) await page.screenshot({ path: 'docs/img/console-dashboard.png', fullPage: true });
    assert.deepEqual(errors, []);
    await ctx.close();
  });

  it('speaks Chinese to a zh-CN browser, and shows nothing without the sign-in', async () => {
    const ctx = await context('zh-CN');
    const page = await ctx.newPage();
    await page.goto(`${t.hub.url}/console/dashboard${RANGE}`);
    await page.locator('h1').filter({ hasText: '服务分析' }).waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('html').getAttribute('lang'), 'zh-CN');
    assert.match(await page.locator('[data-kpi="bot-resolution"]').innerText(), /机器人解决率\s*25%/);
    await ctx.close();

    const anon = await browser.newContext();
    const anonPage = await anon.newPage();
    const res = await anonPage.goto(`${t.hub.url}/console/dashboard`);
    // The test's guard answers 401; the console's sends a browser to its sign-in page.
    assert.ok(res?.status() === 401 || new URL(anonPage.url()).pathname === '/console/login', `${res?.status()} ${anonPage.url()}`);
    assert.equal(await anonPage.locator('#dashboard').count(), 0);
    await anon.close();
  });
});
