import './quiet.js';
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { types } from 'wechaty';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import type { Responder } from '../../src/core/responder.js';
import { LOGIN_PATH } from '../../src/adapters/wechat/login.js';
import { RecordingContext } from '../contract/adapter-contract.js';
import { Redis } from 'ioredis';
import { startTestHub, until } from '../helpers/hub.js';
import { REDIS_URL } from '../helpers/env.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PuppetMock } from 'wechaty-puppet-mock';
import { FailingPuppet, LogCapture, tempDir, wechatRig, type WechatRig } from './helpers.js';
import { wechatConfigSchema } from '../../src/adapters/wechat/index.js';
import { createWechatAdapter } from '../../src/adapters/wechat/create.js';

const echo: Responder = { respond: async (turn) => ({ kind: 'answer', text: `echo: ${turn.text}` }) };
const ADMIN = 'admin-token-0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function hubWithWechat(config: Record<string, unknown> = {}, extra: Parameters<typeof wechatRig>[1] = {}) {
  const rig = wechatRig({ adminToken: ADMIN, ...config }, extra);
  const t = await startTestHub({ adapters: [rig.adapter], responder: echo });
  after(async () => {
    await t.stop();
    rig.cleanup();
  });
  await rig.login();
  return { rig, t };
}

async function customerMessages(t: Awaited<ReturnType<typeof startTestHub>>, userId: string): Promise<string[]> {
  const ident = await t.hub.storage.customers.findIdentity('wechat', userId);
  if (!ident) return [];
  const [conv] = await t.hub.storage.conversations.ofCustomer(ident.customerId);
  if (!conv) return [];
  return (await t.hub.storage.messages.ofConversation(conv.id)).filter((m) => m.author === 'customer').map((m) => m.text);
}

describe('wechat adapter through a real hub (wechaty-puppet-mock)', () => {
  it("answers a contact's message; its own reply coming back is ignored", async () => {
    const { rig, t } = await hubWithWechat();
    const alice = rig.contact('wxid_alice', 'Alice');
    alice.say('where is my order?').to(rig.user);
    await until(() => rig.puppet.sentTo('wxid_alice').length >= 1, 10_000, 'reply to alice');
    assert.equal(rig.puppet.sentTo('wxid_alice')[0]?.text, 'echo: where is my order?');
    // The bot's own reply comes back from the puppet as a message (self): never a customer turn.
    rig.user.say('typed on the phone by the operator').to(alice);
    await sleep(400);
    assert.deepEqual(await customerMessages(t, 'wxid_alice'), ['where is my order?']);
    assert.deepEqual(await customerMessages(t, rig.user.id), []);
    assert.equal(rig.puppet.sends.length, 1, 'no reply loop');
  });

  it('ignores a room message without a mention; answers a mention in an allowed room, mentioning the customer', async () => {
    const { rig } = await hubWithWechat({ allowedRooms: ['VIP support'] });
    const bob = rig.contact('wxid_bob', 'Bob');
    const room = rig.mocker.createRoom({ topic: 'VIP support', memberIdList: [rig.user.id, bob.id] });
    const other = rig.mocker.createRoom({ topic: 'chit-chat', memberIdList: [rig.user.id, bob.id] });
    bob.say('anyone here?').to(room);
    bob.say(`@${rig.user.payload.name} in the wrong room`, [rig.user]).to(other);
    bob.say(`@${rig.user.payload.name} my parcel is late`, [rig.user]).to(room);
    await until(() => rig.puppet.sentTo(room.id).length >= 1, 10_000, 'room reply');
    await sleep(400);
    assert.equal(rig.puppet.sentTo(other.id).length, 0);
    const replies = rig.puppet.sentTo(room.id);
    assert.equal(replies.length, 1);
    assert.match(replies[0]?.text ?? '', /echo: my parcel is late$/);
    assert.deepEqual(replies[0]?.mentions, [bob.id]);
  });

  it('pacing holds under a burst of 50 replies (per contact interval and global rate)', async () => {
    const pacing = { minIntervalMs: 60, jitterMs: 20, globalPerMinute: 1500, maxWaitMs: 20_000 };
    const { rig } = await hubWithWechat({ pacing });
    const customers = Array.from({ length: 5 }, (_, i) => rig.contact(`wxid_burst${i}`));
    for (let i = 0; i < 50; i++) customers[i % 5]?.say(`question ${i}`).to(rig.user);
    await until(() => rig.puppet.sends.length >= 50, 20_000, '50 replies');
    const sends = [...rig.puppet.sends].sort((a, b) => a.at - b.at);
    const globalGap = 60_000 / pacing.globalPerMinute; // 40 ms
    // The pacer lets one send out at a time and counts the gaps from the end of the previous send,
    // so the puppet sees them at full spacing whatever wechaty's own awaits take.
    for (let i = 1; i < sends.length; i++) {
      const gap = (sends[i]?.at ?? 0) - (sends[i - 1]?.at ?? 0);
      assert.ok(gap >= globalGap, `global gap ${gap} ms < ${globalGap}`);
    }
    for (const c of customers) {
      const mine = rig.puppet.sentTo(c.id);
      assert.equal(mine.length, 10);
      for (let i = 1; i < mine.length; i++) {
        const gap = (mine[i]?.at ?? 0) - (mine[i - 1]?.at ?? 0);
        assert.ok(gap >= pacing.minIntervalMs, `${c.id}: gap ${gap} ms < ${pacing.minIntervalMs}`);
      }
      // Every question got its reply (queued, never dropped). Order across separate replies is up to
      // the core's outbound queue (concurrent jobs), not guaranteed here.
      const nums = mine.map((s) => Number(/question (\d+)/.exec(s.text)?.[1])).sort((a, b) => a - b);
      assert.deepEqual(nums, Array.from({ length: 10 }, (_, k) => k * 5 + customers.indexOf(c)));
    }
  });

  it('serves the login state to admins only', async () => {
    const rig = wechatRig({ adminToken: ADMIN }, { printQr: true, write: (s) => printed.push(s) });
    const printed: string[] = [];
    const t = await startTestHub({ adapters: [rig.adapter], responder: echo });
    after(async () => {
      await t.stop();
      rig.cleanup();
    });
    const url = `${t.hub.url}${LOGIN_PATH}`;
    assert.equal((await fetch(url)).status, 401);
    assert.equal((await fetch(url, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
    await until(() => rig.adapter.loginState.connected, 10_000, 'connected');
    rig.mocker.scan('https://login.weixin.qq.com/l/qr-value-1', types.ScanStatus.Waiting);
    await until(() => rig.adapter.loginState.status === 'scan', 5000, 'scan state');
    const auth = { headers: { authorization: `Bearer ${ADMIN}` } };
    const scan = (await (await fetch(url, auth)).json()) as Record<string, unknown>;
    assert.equal(scan.status, 'scan');
    assert.equal(scan.qrcode, 'https://login.weixin.qq.com/l/qr-value-1');
    assert.match(String(scan.qrUrl), /^https:\/\/wechaty\.js\.org\/qrcode\/https%3A%2F%2Flogin/);
    assert.ok(printed.join('').includes('Scan with WeChat'), 'QR printed in the terminal');
    rig.mocker.login(rig.user);
    await until(() => rig.adapter.loginState.status === 'logged_in', 5000, 'login');
    const res = await fetch(url, auth);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { status: string; user?: { id: string }; connected: boolean };
    assert.equal(body.status, 'logged_in');
    assert.equal(body.user?.id, rig.user.id);
    assert.equal(body.connected, true);
  });

  it('a process without the connection asks the holder over the bus', async () => {
    const { rig, t } = await hubWithWechat();
    // A second gateway on the same Redis prefix: the lease is taken, so it only serves HTTP.
    const rig2 = wechatRig({ adminToken: ADMIN });
    const t2 = await startTestHub({ adapters: [rig2.adapter], responder: echo, role: 'gateway', config: { redis: { prefix: t.config.redis.prefix } } });
    after(async () => {
      await t2.hub.stop();
      rig2.cleanup();
    });
    await sleep(200);
    assert.equal(rig2.adapter.loginState.connected, false);
    const body = (await (await fetch(`${t2.hub.url}${LOGIN_PATH}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as {
      status: string;
      user?: { id: string };
    };
    assert.equal(body.status, 'logged_in');
    assert.equal(body.user?.id, rig.user.id);
  });

  it('the login route is disabled without an adminToken', async () => {
    const rig = wechatRig();
    const ctx = new RecordingContext();
    await rig.adapter.mount(ctx);
    const res = await new Promise<{ status: number; body: string }>((resolve) => {
      const fakeRes = {
        statusCode: 0,
        writeHead(status: number) {
          this.statusCode = status;
          return this;
        },
        setHeader() {
          return this;
        },
        end(body: string) {
          resolve({ status: this.statusCode, body });
        },
      };
      void ctx.router.handle(
        { method: 'GET', url: LOGIN_PATH, headers: {} } as unknown as import('node:http').IncomingMessage,
        fakeRes as unknown as import('node:http').ServerResponse,
      );
    });
    assert.equal(res.status, 404);
    assert.match(res.body, /adminToken/);
    await rig.adapter.stop();
    rig.cleanup();
  });

  it('a puppet that fails to start: clear error, lease given back, the hub keeps running', async () => {
    const logs = new LogCapture();
    const cfg = wechatConfigSchema.parse({ enabled: true });
    const tmp = tempDir();
    const adapter = createWechatAdapter(cfg, { log: logs.log, dataDir: tmp.dir }, { puppetInstance: new FailingPuppet(), printQr: false });
    const lb = new LoopbackAdapter();
    // A long lease TTL: the keeper's next try comes after the test, so stopping does not wait for it.
    const t = await startTestHub({ adapters: [adapter, lb], responder: echo, leaseTtlMs: 30_000 });
    after(async () => {
      await t.stop();
      tmp.drop();
    });
    // wechaty needs ~5 s to give up on a puppet whose start failed (its state-switch timeout).
    await until(() => logs.has(/failed to start/), 10_000, 'start failure logged');
    // The lease was given back, so this or another gateway tries again on the keeper's next tick.
    const redis = new Redis(REDIS_URL);
    try {
      await until(async () => (await redis.exists(`${t.config.redis.prefix}:lease:channel:wechat`)) === 0, 2000, 'lease released');
    } finally {
      redis.disconnect();
    }
    const err = logs.lines.find((l) => /failed to start/.test(l.msg));
    assert.ok(err && err.level >= 50, 'logged at error level');
    assert.match(err?.msg ?? '', /refused the token/);
    assert.equal((await fetch(`${t.hub.url}/healthz`)).status, 200);
    await lb.receive('lb-user', 'still alive?');
    await lb.waitForSent(1);
    assert.equal(lb.sent[0]?.text, 'echo: still alive?');
    // Sends while not connected fail retryably; the job stays queued rather than lost.
    await assert.rejects(
      adapter.send({ id: 'o1', conversationId: 'c', ref: { channel: 'wechat', chatId: 'x' }, text: 'hi', author: 'bot' }),
      (e: unknown) => e instanceof Error && /not logged in/.test(e.message) && (e as { retry?: string }).retry === 'retry',
    );
  });
});

describe('wechat adapter start-up failures', () => {
  it('a puppet package that is not installed: connect fails with the package to install, logged at error', async (t) => {
    const logs = new LogCapture();
    const tmp = tempDir();
    t.after(tmp.drop);
    const cfg = wechatConfigSchema.parse({ enabled: true, puppet: 'wechaty-puppet-not-installed' });
    const adapter = createWechatAdapter(cfg, { log: logs.log, dataDir: tmp.dir });
    await adapter.mount(new RecordingContext());
    await assert.rejects(adapter.connect(), /wechaty-puppet-not-installed is not installed \(npm install wechaty-puppet-not-installed\)/);
    assert.ok(logs.has(/cannot start: .*not installed/, 50));
    await assert.rejects(adapter.connect(), /not installed/);
    assert.equal(logs.lines.filter((l) => l.level >= 50).length, 1, 'loud once, then warnings');
    await adapter.stop();
  });
});

describe('wechat adapter session and input handling (RecordingContext)', () => {
  let rig: WechatRig;
  const ctx = new RecordingContext();
  after(async () => {
    await rig.adapter.stop();
    rig.cleanup();
  });

  it('a logout restarts the puppet with backoff, and messages flow again after the new login', async () => {
    const logs = new LogCapture();
    rig = wechatRig({ pacing: { minIntervalMs: 10, jitterMs: 0, globalPerMinute: 6000 } }, { reconnectBaseMs: 50, loginWaitMs: 200 }, logs.log);
    await rig.adapter.mount(ctx);
    await rig.adapter.connect();
    await rig.login();
    await rig.puppet.logout();
    await until(() => logs.has(/restarting the puppet/), 5000, 'restart');
    assert.ok(logs.has(/logged out/, 40), 'logout logged at warn');
    assert.equal(rig.adapter.loginState.status, 'logged_out');
    await until(() => rig.puppet.state.active() === true, 5000, 'puppet started again');
    rig.mocker.login(rig.user);
    await until(() => rig.adapter.loginState.status === 'logged_in', 5000, 'logged in again');
    const before = ctx.accepted.length;
    rig.contact('wxid_carol').say('back online?').to(rig.user);
    await ctx.waitForAccepted(before + 1);
    assert.equal(ctx.accepted.at(-1)?.text, 'back online?');
  });

  it('the session lives in <dataDir>/wechat/<name>.memory-card.json and survives a restart', async (t) => {
    const tmp = tempDir();
    t.after(tmp.drop);
    class SessionPuppet extends PuppetMock {
      restored: unknown;
      override async onStart(): Promise<void> {
        await this.memory.load();
        this.restored = await this.memory.get('session');
        await this.memory.set('session', { token: 'kept' });
        await this.memory.save();
        return super.onStart();
      }
    }
    const cfg = wechatConfigSchema.parse({ enabled: true, name: 'shop-a' });
    const deps = { log: new LogCapture().log, dataDir: tmp.dir };
    const first = new SessionPuppet();
    const a1 = createWechatAdapter(cfg, deps, { puppetInstance: first, printQr: false });
    await a1.mount(new RecordingContext());
    await a1.connect();
    await a1.stop();
    assert.ok(existsSync(join(tmp.dir, 'wechat', 'shop-a.memory-card.json')));
    const second = new SessionPuppet();
    const a2 = createWechatAdapter(cfg, deps, { puppetInstance: second, printQr: false });
    await a2.mount(new RecordingContext());
    await a2.connect();
    await a2.stop();
    assert.deepEqual(second.restored, { token: 'kept' });
  });

  it('images and files arrive as attachment metadata', async () => {
    const before = ctx.accepted.length;
    const dave = rig.contact('wxid_dave');
    // Built as payloads: the adapter reads metadata only and never asks the puppet for the bytes.
    const media = (id: string, type: number, filename?: string) => {
      rig.mocker.MessageMock.create({
        id,
        talkerId: dave.id,
        listenerId: rig.user.id,
        timestamp: Date.now(),
        type,
        ...(filename ? { filename } : {}),
      });
      rig.puppet.emit('message', { messageId: id });
    };
    media('img-msg-1', types.Message.Image);
    media('file-msg-1', types.Message.Attachment, 'invoice.pdf');
    const id = 'file-msg-1';
    const all = await ctx.waitForAccepted(before + 2);
    const got = all.slice(before);
    assert.deepEqual(
      got.map((m) => [m.kind, m.text, m.attachments[0]?.mimeType]),
      [
        ['media', '', 'image/jpeg'],
        ['media', '', 'application/pdf'],
      ],
    );
    assert.equal(got[1]?.attachments[0]?.name, 'invoice.pdf');
    assert.equal(got[1]?.attachments[0]?.fetchHandle, id);
  });

  it('accept failures are retried in memory, then logged loudly as lost', async (t) => {
    const logs = new LogCapture();
    const r = wechatRig({}, { acceptAttempts: 4, acceptRetryBaseMs: 20 }, logs.log);
    const c = new RecordingContext();
    t.after(async () => {
      await r.adapter.stop();
      r.cleanup();
    });
    await r.adapter.mount(c);
    await r.adapter.connect();
    await r.login();
    c.failAccept = new Error('Redis connection refused');
    r.contact('wxid_erin').say('first try fails').to(r.user);
    await until(() => logs.has(/retry 1\/3/), 5000, 'first retry');
    c.failAccept = undefined;
    await c.waitForAccepted(1);
    assert.equal(c.accepted[0]?.text, 'first try fails');
    c.failAccept = new Error('Redis connection refused');
    r.contact('wxid_erin').say('never queued').to(r.user);
    await until(() => logs.has(/LOST inbound message/), 5000, 'lost logged');
    const lost = logs.lines.find((l) => /LOST/.test(l.msg));
    assert.equal(lost?.level, 50);
    assert.equal(lost?.text, 'never queued');
    c.failAccept = undefined;
  });

  it('friend requests are accepted or not per config', async () => {
    for (const accept of [true, false]) {
      const logs = new LogCapture();
      const r = wechatRig({ acceptFriendRequests: accept }, {}, logs.log);
      await r.adapter.mount(new RecordingContext());
      await r.adapter.connect();
      await r.login();
      const stranger = r.contact(`wxid_stranger_${accept}`, 'Stranger');
      r.puppet.friendships.set('fr1', { id: 'fr1', contactId: stranger.id, hello: 'hi, add me', timestamp: Date.now(), ticket: 't', type: types.Friendship.Receive });
      r.puppet.emit('friendship', { friendshipId: 'fr1' });
      await until(() => logs.has(/friend request from Stranger/), 5000, 'friendship handled');
      assert.deepEqual(r.puppet.accepted, accept ? ['fr1'] : []);
      await r.adapter.stop();
      r.cleanup();
    }
  });

  it('sending to an unknown contact is final; long text is split at the safe length', async () => {
    await assert.rejects(
      rig.adapter.send({ id: 'o-x', conversationId: 'c', ref: { channel: 'wechat', chatId: 'wxid_nobody' }, text: 'hi', author: 'bot' }),
      (e: unknown) => e instanceof Error && (e as { code?: string }).code === 'RECIPIENT_UNREACHABLE' && (e as { retry?: string }).retry === 'final',
    );
    const frank = rig.contact('wxid_frank');
    const text = 'A fairly long sentence for splitting. '.repeat(100).trim();
    const res = await rig.adapter.send({ id: 'o-long', conversationId: 'c', ref: { channel: 'wechat', chatId: frank.id }, text, author: 'bot' });
    const parts = rig.puppet.sentTo(frank.id);
    assert.ok(parts.length >= 3 && parts.every((p) => p.text.length <= 1500));
    assert.equal(res.platformMessageIds.length, parts.length);
    // A retried send of the same outbound id is not sent twice.
    await rig.adapter.send({ id: 'o-long', conversationId: 'c', ref: { channel: 'wechat', chatId: frank.id }, text, author: 'bot' });
    assert.equal(rig.puppet.sentTo(frank.id).length, parts.length);
  });
});
