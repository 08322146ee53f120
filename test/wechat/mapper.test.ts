import './quiet.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { types } from 'wechaty';
import { mapMessage, WxContactType, WxMessageType, type WxMessage } from '../../src/adapters/wechat/mapper.js';
import { checkPuppetToken, loadPuppet } from '../../src/adapters/wechat/puppet.js';
import { wechatConfigSchema } from '../../src/adapters/wechat/index.js';
import { validateInbound } from '../../src/core/pipeline/validate.js';
import { isHubError } from '../../src/core/errors.js';

interface FakeOpts {
  id?: string;
  type?: number;
  text?: string;
  self?: boolean;
  talkerId?: string;
  talkerName?: string;
  talkerType?: number;
  room?: { id: string; topic: string };
  mentioned?: boolean;
  filename?: string;
}

function fake(o: FakeOpts): WxMessage {
  const text = o.text ?? '';
  return {
    id: o.id ?? 'm1',
    payload: { ...(o.filename ? { filename: o.filename } : {}), timestamp: 1_700_000_000 },
    type: () => o.type ?? WxMessageType.Text,
    self: () => o.self ?? false,
    text: () => text,
    talker: () => ({ id: o.talkerId ?? 'wxid_alice', name: () => o.talkerName ?? 'Alice', type: () => o.talkerType ?? WxContactType.Individual }),
    room: () => (o.room ? { id: o.room.id, topic: async () => o.room?.topic ?? '' } : undefined),
    mentionSelf: async () => o.mentioned ?? false,
    mentionText: async () => text.replace(/@\S+\s*/g, ''),
  };
}

const opts = { channel: 'wechat', allowedRooms: ['support', 'r2@chatroom'], now: () => 1_800_000_000_000 };

describe('wechat mapper', () => {
  it('copies wechaty enums faithfully', () => {
    for (const [name, value] of Object.entries(WxMessageType)) assert.equal(types.Message[name as keyof typeof types.Message], value, name);
    for (const [name, value] of Object.entries(WxContactType)) assert.equal(types.Contact[name as keyof typeof types.Contact], value, name);
  });

  it('maps a one-to-one text', async () => {
    const r = await mapMessage(fake({ id: 'mx', text: '  你好 hello ' }), opts);
    assert.equal(r.kind, 'accept');
    if (r.kind !== 'accept') return;
    assert.deepEqual(r.message, {
      channel: 'wechat',
      platformMessageId: 'mx',
      platformUserId: 'wxid_alice',
      userName: 'Alice',
      ref: { channel: 'wechat', chatId: 'wxid_alice', extra: { contactId: 'wxid_alice' } },
      kind: 'text',
      text: '你好 hello',
      attachments: [],
      receivedAt: 1_800_000_000_000,
      extra: { type: 'Text', sentAt: 1_700_000_000_000 },
    });
    assert.doesNotThrow(() => validateInbound(r.message));
  });

  it('answers in an allowed room only when @-mentioned, and strips the mention', async () => {
    const room = { id: 'r1@chatroom', topic: 'support' };
    assert.deepEqual(await mapMessage(fake({ room, text: 'hi all' }), opts), { kind: 'ignore', reason: 'room message without @-mention of the bot' });
    assert.deepEqual(await mapMessage(fake({ room: { id: 'r9@chatroom', topic: 'random' }, text: '@Bot hi', mentioned: true }), opts), {
      kind: 'ignore',
      reason: 'room not in allowedRooms',
    });
    const r = await mapMessage(fake({ room, text: '@Bot where is my order?', mentioned: true }), opts);
    assert.ok(r.kind === 'accept');
    assert.equal(r.message.text, 'where is my order?');
    assert.equal(r.message.platformUserId, 'wxid_alice');
    assert.deepEqual(r.message.ref, { channel: 'wechat', chatId: 'r1@chatroom', extra: { roomId: 'r1@chatroom', contactId: 'wxid_alice' } });
    assert.equal(r.message.extra?.roomTopic, 'support');
    // Allowed by id too.
    const byId = await mapMessage(fake({ room: { id: 'r2@chatroom', topic: 'other' }, text: '@Bot x', mentioned: true }), opts);
    assert.equal(byId.kind, 'accept');
    // A bare mention has nothing to answer.
    assert.deepEqual(await mapMessage(fake({ room, text: '@Bot', mentioned: true }), opts), { kind: 'ignore', reason: 'empty text' });
  });

  it('ignores self, official accounts, system notices, stickers and unknown types with a reason', async () => {
    const cases: [FakeOpts, RegExp][] = [
      [{ self: true, text: 'x' }, /own message/],
      [{ talkerType: WxContactType.Official, text: 'promo' }, /official account/],
      [{ talkerId: 'weixin', text: 'security notice' }, /system notice/],
      [{ type: WxMessageType.Recalled }, /recall/],
      [{ type: WxMessageType.Unknown }, /unknown message type/],
      [{ type: WxMessageType.Emoticon }, /sticker/],
      [{ type: WxMessageType.GroupNote, text: 'X joined' }, /room system notice/],
      [{ type: WxMessageType.MiniProgram }, /unsupported message type MiniProgram/],
      [{ type: 99 }, /unsupported message type type 99/],
      [{ text: '   ' }, /empty text/],
    ];
    for (const [o, re] of cases) {
      const r = await mapMessage(fake(o), opts);
      assert.equal(r.kind, 'ignore', JSON.stringify(o));
      if (r.kind === 'ignore') assert.match(r.reason, re);
    }
  });

  it('maps images and files as attachment metadata without fetching the bytes (a 50 MB document costs nothing)', async () => {
    const doc = fake({ id: 'doc1', type: WxMessageType.Attachment, filename: 'contract-50MB.pdf' });
    // The fake has no toFileBox: the mapper must not download.
    const r = await mapMessage(doc, opts);
    assert.ok(r.kind === 'accept');
    assert.equal(r.message.kind, 'media');
    assert.equal(r.message.text, '');
    assert.deepEqual(r.message.attachments, [{ name: 'contract-50MB.pdf', mimeType: 'application/pdf', fetchHandle: 'doc1' }]);
    assert.doesNotThrow(() => validateInbound(r.message));
    const img = await mapMessage(fake({ id: 'img1', type: WxMessageType.Image }), opts);
    assert.ok(img.kind === 'accept');
    assert.deepEqual(img.message.attachments, [{ name: 'image-img1.jpg', mimeType: 'image/jpeg', fetchHandle: 'img1' }]);
    const voice = await mapMessage(fake({ id: 'v1', type: WxMessageType.Audio }), opts);
    assert.ok(voice.kind === 'accept' && voice.message.attachments[0]?.mimeType === 'audio/silk');
  });
});

describe('wechat config and puppet loading', () => {
  it('has the documented defaults and refuses unknown fields', () => {
    const c = wechatConfigSchema.parse({ enabled: true });
    assert.equal(c.puppet, 'wechaty-puppet-wechat4u');
    assert.equal(c.name, 'switchboard');
    assert.deepEqual(c.allowedRooms, []);
    assert.equal(c.acceptFriendRequests, false);
    assert.deepEqual(c.pacing, { minIntervalMs: 3000, jitterMs: 2000, globalPerMinute: 20, maxWaitMs: 20_000 });
    assert.equal(c.maxTextLength, 1500);
    assert.equal(wechatConfigSchema.safeParse({ enabled: true, pacing: { minInterval: 1 } }).success, false);
    assert.equal(wechatConfigSchema.safeParse({ enabled: true, name: '../escape' }).success, false);
  });

  it('a token puppet without its token stops start-up naming the variable', () => {
    assert.throws(
      () => checkPuppetToken('wechaty-puppet-service', undefined, {}),
      (e: unknown) => isHubError(e, 'CONFIG_MISSING_ENV') && /WECHATY_PUPPET_SERVICE_TOKEN/.test(e.message),
    );
    assert.doesNotThrow(() => checkPuppetToken('wechaty-puppet-service', 'tok', {}));
    assert.doesNotThrow(() => checkPuppetToken('wechaty-puppet-service', undefined, { WECHATY_PUPPET_SERVICE_TOKEN: 'x' }));
    assert.doesNotThrow(() => checkPuppetToken('wechaty-puppet-wechat4u', undefined, {}));
  });

  it('loads a puppet by name, and says clearly when the package is missing', async () => {
    const p = await loadPuppet('wechaty-puppet-mock', undefined);
    assert.equal(typeof p.start, 'function');
    await assert.rejects(loadPuppet('wechaty-puppet-does-not-exist', undefined), (e: unknown) => {
      return isHubError(e, 'CONFIG_INVALID') && /wechaty-puppet-does-not-exist is not installed \(npm install/.test(e.message);
    });
    await assert.rejects(loadPuppet('../../etc/passwd', undefined), /not a package name/);
    await assert.rejects(
      loadPuppet('fake-puppet', undefined, async () => ({ notAPuppet: 1 })),
      /exports no puppet class/,
    );
  });
});
