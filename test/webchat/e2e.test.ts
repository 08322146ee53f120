import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchChromium, watchErrors } from '../helpers/browser.js';
import { webchatAdapter, webchatConfigSchema } from '../../src/adapters/webchat/index.js';
import type { ChannelAdapter } from '../../src/core/adapter.js';
import { WebchatAdapter } from '../../src/adapters/webchat/adapter.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';
import { EchoResponder } from './echo.js';

const skip = chromiumSkip;

/** A third-party site (another origin) that embeds the widget with one script tag. */
function embeddingSite(page: () => string): Promise<Server> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(page());
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

const shopPage = (hubUrl: string) => `<!doctype html><html><head><meta charset="utf-8"><title>Shop</title></head>
<body style="font-family:sans-serif;margin:40px"><h1>Acme shop</h1><p>Some product page.</p>
<script src="${hubUrl}/widget.js" data-hub="${hubUrl}" async></script></body></html>`;

describe('webchat in a real browser', { skip }, () => {
  let t: TestHub;
  let browser: Browser;
  let site: Server;
  let siteUrl: string;
  let adapter: ChannelAdapter;

  before(async () => {
    // The embedding site is another origin: `localhost` vs the hub's 127.0.0.1, and another port.
    site = await embeddingSite(() => shopPage(t.hub.url));
    siteUrl = `http://localhost:${(site.address() as AddressInfo).port}`;
    const config = webchatConfigSchema.parse({
      cookieSecret: 'e2e-secret-0123456789abcdef',
      title: { zh: '测试客服中心', en: 'Acme Support' },
      allowedOrigins: [siteUrl],
    });
    adapter = await webchatAdapter.create(config, { log: pino({ level: 'silent' }), dataDir: '/nonexistent' });
    t = await startTestHub({ adapters: [adapter], responder: new EchoResponder(600) });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    site?.close();
    await t?.stop();
  });

  const bubble = (page: Page, text: string) => page.locator('.sb-bubble', { hasText: text });

  it('round trip on the hub page: reply, typing dots, buttons, history after reload', async () => {
    const ctx = await browser.newContext({ locale: 'en-US', viewport: { width: 1100, height: 760 } });
    const page = await ctx.newPage();
    const errors = watchErrors(page);
    await page.goto(t.hub.url);
    await page.locator('.sb-status.sb-online').waitFor();
    assert.equal(await page.title(), 'Acme Support');
    assert.equal(await page.locator('.sb-input').getAttribute('placeholder'), 'Type a message, press Enter to send');
    const cookies = await ctx.cookies();
    assert.ok(cookies.some((c) => c.name === 'sb_wc' && c.httpOnly), 'HttpOnly visitor cookie');

    await page.locator('.sb-input').fill('How do I reset my password? <b>bold</b>');
    await page.keyboard.press('Enter');
    await page.locator('.sb-typing').waitFor({ state: 'visible', timeout: 3000 });
    await page.screenshot({ path: '/tmp/webchat-typing.png' });
    await bubble(page, 'echo: How do I reset my password? <b>bold</b>').waitFor();
    await page.locator('.sb-typing').waitFor({ state: 'hidden' });
    const more = page.locator('.sb-chip', { hasText: 'More' });
    await more.waitFor();
    await page.waitForTimeout(300); // let the fade-in finish
    await page.screenshot({ path: '/tmp/webchat.png' });
    await more.click();
    await bubble(page, 'echo: More (more)').waitFor();
    assert.equal(await page.locator('b').count(), 0, 'message text is never parsed as HTML');

    // The hub drops the socket: the widget reconnects and sends what was typed meanwhile.
    assert.ok(adapter instanceof WebchatAdapter);
    adapter.dropConnections();
    await page.locator('.sb-status:not(.sb-online)').waitFor();
    await page.locator('.sb-input').fill('typed while reconnecting');
    await page.keyboard.press('Enter');
    await bubble(page, 'echo: typed while reconnecting').waitFor();
    assert.equal(await page.locator('.sb-pending').count(), 0);
    const expected = [
      'How do I reset my password? <b>bold</b>',
      'echo: How do I reset my password? <b>bold</b>',
      'More',
      'echo: More (more)',
      'typed while reconnecting',
      'echo: typed while reconnecting',
    ];
    const shown = async () => (await page.locator('.sb-bubble').allTextContents()).filter((x) => x.trim());
    assert.deepEqual(await shown(), expected, 'the history merged on reconnect adds no duplicates');

    await page.reload();
    await page.locator('.sb-status.sb-online').waitFor();
    await bubble(page, 'echo: typed while reconnecting').waitFor();
    assert.deepEqual(await shown(), expected);
    assert.deepEqual(errors, []);
    await ctx.close();
  });

  it('speaks Chinese to a zh-CN browser', async () => {
    const ctx = await browser.newContext({ locale: 'zh-CN', viewport: { width: 420, height: 760 } });
    const page = await ctx.newPage();
    const errors = watchErrors(page);
    await page.goto(t.hub.url);
    await page.locator('.sb-status.sb-online').waitFor();
    await page.screenshot({ path: '/tmp/webchat-zh-empty.png' });
    assert.equal(await page.locator('.sb-title').textContent(), '测试客服中心');
    assert.match((await page.locator('.sb-status').textContent()) ?? '', /在线/);
    await page.locator('.sb-input').fill('你好，我想查询订单');
    await page.locator('.sb-send').click();
    await bubble(page, 'echo: 你好，我想查询订单').waitFor();
    await page.waitForTimeout(300);
    await page.screenshot({ path: '/tmp/webchat-zh.png' });
    assert.deepEqual(errors, []);
    await ctx.close();
  });

  it('embeds on another site with one script tag', async () => {
    const ctx = await browser.newContext({ locale: 'en-GB', viewport: { width: 1100, height: 760 } });
    const page = await ctx.newPage();
    const errors = watchErrors(page);
    await page.goto(siteUrl);
    await page.locator('.sb-launcher').click();
    await page.locator('.sb-status.sb-online').waitFor();
    await page.locator('.sb-input').fill('Do you ship abroad?');
    await page.keyboard.press('Enter');
    await bubble(page, 'echo: Do you ship abroad?').waitFor();
    await page.waitForTimeout(300);
    await page.screenshot({ path: '/tmp/webchat-embed.png' });
    await page.reload();
    await page.locator('.sb-status.sb-online').waitFor(); // the panel reopens
    await bubble(page, 'echo: Do you ship abroad?').waitFor();
    assert.deepEqual(errors, []);
    await ctx.close();
  });
});
