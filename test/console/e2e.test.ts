import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { chromiumSkip, launchChromium, watchErrors } from '../helpers/browser.js';
import { webchatAdapter, webchatConfigSchema } from '../../src/adapters/webchat/index.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { createResponder } from '../../src/hub/bot.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';

const skip = chromiumSkip;
/** Set to a path (docs/img/console-inbox.png) to save the inbox screenshot there. */
const SHOT = process.env.CONSOLE_SCREENSHOT;

const AGENT = generateToken();

describe('console in a real browser: the web chat hands over, the agent answers from the inbox', { skip }, () => {
  let t: TestHub;
  let browser: Browser;

  before(async () => {
    const adapter = await webchatAdapter.create(webchatConfigSchema.parse({ cookieSecret: 'console-e2e-secret-0123456789' }), { log: pino({ level: 'silent' }), dataDir: '/nonexistent' });
    // The demo's knowledge bot (config/knowledge), no Slack: the console is the only desk.
    t = await startTestHub({ adapters: [adapter], responderFactory: createResponder, config: { api: { tokens: [{ name: 'support', roles: ['admin'], sha256: hashToken(AGENT) }] } } });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await t?.stop();
  });

  it('a wrong token is refused with a clear message', async () => {
    const page = await (await browser.newContext({ locale: 'en-US' })).newPage();
    await page.goto(`${t.hub.url}/console`);
    await page.waitForURL(/\/console\/login/);
    await page.getByLabel('API token (role agent or admin)').fill('sb_wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('alert').filter({ hasText: 'wrong token' }).waitFor();
    assert.match(page.url(), /\/console\/login/);
    await page.context().close();
  });

  it('sign in; the case appears live; claim, reply, resolve; the customer sees the agent by name and rates; the CSAT shows', async () => {
    const agentCtx = await browser.newContext({ locale: 'zh-CN', viewport: { width: 1280, height: 860 } });
    const agent = await agentCtx.newPage();
    const agentErrors = watchErrors(agent);
    await agent.goto(`${t.hub.url}/console`);
    await agent.waitForURL(/\/console\/login/);
    await agent.getByLabel('API 令牌（agent 或 admin 角色）').fill(AGENT);
    await agent.getByLabel('您的称呼（客户可见）').fill('小林');
    await agent.getByRole('button', { name: '登录' }).click();
    await agent.waitForURL(/\/console$/);
    await agent.locator('.live.on').waitFor();
    assert.ok((await agentCtx.cookies()).some((c) => c.name === 'sb_console' && c.httpOnly && c.sameSite === 'Strict'));
    await agent.getByRole('link', { name: '数据看板' }).waitFor(); // admins get the dashboard and queues links

    const custCtx = await browser.newContext({ locale: 'en-US', viewport: { width: 420, height: 760 } });
    const customer = await custCtx.newPage();
    await customer.goto(t.hub.url);
    await customer.locator('.sb-status.sb-online').waitFor();
    await customer.locator('.sb-input').fill('I want to talk to a person about my refund');
    await customer.keyboard.press('Enter');
    await customer.locator('.sb-bubble', { hasText: /person|team/i }).nth(1).waitFor();

    // Live: the inbox shows the case without a reload.
    const item = agent.locator('.case', { hasText: 'I want to talk to a person about my refund' });
    await item.waitFor({ timeout: 10_000 });
    // A second customer, in Chinese, waits too.
    const zhCtx = await browser.newContext({ locale: 'zh-CN', viewport: { width: 420, height: 760 } });
    const zh = await zhCtx.newPage();
    await zh.goto(t.hub.url);
    await zh.locator('.sb-status.sb-online').waitFor();
    await zh.locator('.sb-input').fill('快递一直没到，我要转人工');
    await zh.keyboard.press('Enter');
    await agent.locator('.case', { hasText: '快递一直没到' }).waitFor({ timeout: 10_000 });
    // No Slack: the customer's next message while nobody has the case is answered by the waiting notice.
    await customer.locator('.sb-input').fill('Is anyone there?');
    await customer.keyboard.press('Enter');
    await customer.locator('.sb-bubble', { hasText: 'A person will answer you here' }).waitFor();
    await customer.locator('.sb-typing').waitFor({ state: 'hidden' });

    // The relayed message updates the list live too (the case shows the customer's latest words).
    const latest = agent.locator('.case', { hasText: 'Is anyone there?' });
    await latest.waitFor({ timeout: 10_000 });
    assert.equal(await agent.locator('.case').count(), 2);
    await latest.click();
    await agent.getByRole('heading', { name: '转接摘要' }).waitFor();
    await agent.locator('.msg', { hasText: 'Is anyone there?' }).waitFor();
    assert.equal(await agent.locator('.suggestions li').count(), 3, 'three suggested replies');
    await agent.getByRole('button', { name: '认领' }).click();
    await agent.locator('.detail .badge.st-agent').waitFor();
    await agent.getByLabel('回复客户').fill('Hi, this is Lin. Your refund was sent today.');
    if (SHOT) {
      mkdirSync(dirname(SHOT), { recursive: true });
      await agent.screenshot({ path: SHOT });
    }
    await agent.getByRole('button', { name: '发送回复' }).click();

    // On a phone: the list, then one conversation full width, and back.
    const phoneCtx = await browser.newContext({ locale: 'en-US', viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const phone = await phoneCtx.newPage();
    await phone.goto(`${t.hub.url}/console/login`);
    await phone.getByLabel('API token (role agent or admin)').fill(AGENT);
    await phone.getByRole('button', { name: 'Sign in' }).click();
    await phone.locator('.case', { hasText: '快递一直没到' }).click();
    await phone.getByRole('heading', { name: 'Hand-over summary' }).waitFor();
    assert.equal(await phone.locator('.list-pane').isVisible(), false, 'one pane at a time on a phone');
    await phone.getByRole('button', { name: 'Back to the list' }).click();
    await phone.locator('.list-pane').waitFor();
    await phoneCtx.close();
    await zhCtx.close();

    const reply = customer.locator('.sb-row', { hasText: 'Your refund was sent today.' });
    await reply.waitFor();
    assert.equal((await reply.locator('.sb-name').textContent())?.trim(), '小林', "the reply carries the agent's name");

    await agent.getByRole('button', { name: '标记解决' }).click();
    await customer.locator('.sb-bubble', { hasText: 'How satisfied' }).waitFor();
    await customer.locator('.sb-chip', { hasText: '5' }).last().click();
    await agent.locator('.badge.csat', { hasText: '5/5' }).waitFor({ timeout: 10_000 });

    const conv = await until(async () => (await t.hub.storage.conversations.withStatus({ statuses: ['resolved'], limit: 5 }))[0]);
    assert.equal(conv.botState.csat, 5);
    const events = (await t.hub.storage.events.ofConversation(conv.id)).map((e) => e.type);
    for (const type of ['conversation.escalated', 'conversation.claimed', 'agent.replied', 'conversation.resolved', 'csat.given']) assert.ok(events.includes(type), type);
    assert.deepEqual(agentErrors, []);

    // Sign out: the inbox is gone until the next sign-in.
    await agent.getByRole('button', { name: '退出登录' }).click();
    await agent.waitForURL(/\/console\/login/);
    await agent.goto(`${t.hub.url}/console`);
    await agent.waitForURL(/\/console\/login/);
    await agentCtx.close();
    await custCtx.close();
  });
});
