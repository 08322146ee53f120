/**
 * `npx tsx bench/analytics-screenshot.ts [--locale en-US|zh-CN] [--out docs/img/console-dashboard.png]`:
 * seeds four weeks of history (bench/analytics-seed.ts, 60,000 messages) into a fresh SQLite hub,
 * opens the dashboard in Chromium (/usr/bin/chromium) and saves a full-page screenshot.
 */
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { openDb, migrate } from '../src/core/storage/db.js';
import { storageMigrations } from '../src/core/storage/migrations/index.js';
import type { Guard } from '../src/analytics/guard.js';
import { setupAnalytics, type AnalyticsModule } from '../src/hub/analytics.js';
import { LoopbackAdapter } from '../src/adapters/loopback/index.js';
import { sqliteDb } from '../test/helpers/env.js';
import { startTestHub } from '../test/helpers/hub.js';
import { seedAnalytics } from './analytics-seed.js';

const { values } = parseArgs({ options: { locale: { type: 'string', default: 'en-US' }, out: { type: 'string', default: 'docs/img/console-dashboard.png' } } });
const DAY = 86_400_000;
const end = Math.floor(Date.now() / DAY) * DAY + DAY;
const db = sqliteDb();
const handle = openDb(db.url);
await migrate(handle, storageMigrations);
await seedAnalytics(handle, { messages: 60_000, days: 28, end, channels: ['webchat', 'telegram', 'wechat', 'email'], seed: 7 });
await handle.close();

const guard: Guard = async (request, reply) => {
  if ((request.headers.cookie ?? '').includes('shot=1')) return true;
  await reply.code(401).send({ error: 'sign in' });
  return false;
};
let analytics: Promise<AnalyticsModule> | undefined;
const t = await startTestHub({ db, adapters: [new LoopbackAdapter({ channel: 'webchat' })], subscribe: (_s, hub) => void (analytics = setupAnalytics(hub, guard)) });
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'], headless: true });
try {
  const ctx = await browser.newContext({ locale: values.locale, viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
  await ctx.addCookies([{ name: 'shot', value: '1', url: t.hub.url }]);
  const page = await ctx.newPage();
  const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  await page.goto(`${t.hub.url}/console/dashboard?from=${day(end - 28 * DAY)}&to=${day(end - DAY)}&tz=Asia/Shanghai`);
  await page.locator('#gaps').waitFor({ timeout: 20_000 });
  await page.waitForTimeout(500);
  await page.screenshot({ path: values.out, fullPage: true });
  console.log(`wrote ${values.out}`);
} finally {
  await browser.close();
  await (await analytics)?.close();
  await t.stop();
  await db.drop();
}
process.exit(0);
