import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mapUpdate, type MapEnv, type MapResult } from '../../src/adapters/telegram/mapper.js';
import { validateInbound } from '../../src/core/pipeline/validate.js';
import type { InboundMessage } from '../../src/core/types.js';
import { fixture } from './fixtures.js';

const NOW = 1_735_812_345_000;
const GROUP = '-1001987654321';
const env: MapEnv = { botUsername: 'switchboard_test_bot', allowedGroups: new Set([GROUP]), now: NOW };

function accepted(r: MapResult): InboundMessage {
  if (!r.ok) assert.fail(`expected a message, got ignored: ${r.reason}`);
  assert.doesNotThrow(() => validateInbound(r.message));
  return r.message;
}
function ignored(r: MapResult): Extract<MapResult, { ok: false }> {
  if (r.ok) assert.fail(`expected ignored, got ${JSON.stringify(r.message)}`);
  return r;
}

describe('telegram mapper', () => {
  it('maps a private text with ids, ref, name, locale; markup characters untouched', () => {
    const m = accepted(mapUpdate(fixture('private-text'), env));
    assert.deepEqual(m, {
      channel: 'telegram',
      platformMessageId: 'm5123456789_412',
      platformUserId: '5123456789',
      userName: 'Lin Wei',
      locale: 'zh-hans',
      ref: { channel: 'telegram', chatId: '5123456789', extra: { chatType: 'private', messageId: 412 } },
      kind: 'text',
      text: 'Where is my order *_[ #A-1042?',
      attachments: [],
      receivedAt: NOW,
      extra: { updateId: 873214501, chatType: 'private', messageId: 412, sentAt: 1735812000000, username: 'linwei' },
    });
  });

  it('the same update maps to the same platform message id (redelivery is deduplicated)', () => {
    const a = accepted(mapUpdate(fixture('private-text'), env));
    const b = accepted(mapUpdate(fixture('private-text'), { ...env, now: NOW + 86_400_000 }));
    assert.equal(a.platformMessageId, b.platformMessageId);
  });

  it('/start with a deep-link payload is a command with its payload', () => {
    const m = accepted(mapUpdate(fixture('start-deeplink'), env));
    assert.equal(m.kind, 'command');
    assert.deepEqual(m.command, { name: 'start', payload: 'link-7f3a9c' });
    assert.equal(m.text, '/start link-7f3a9c');
  });

  it('/human is a command without payload', () => {
    const m = accepted(mapUpdate(fixture('human-command'), env));
    assert.deepEqual(m.command, { name: 'human' });
    assert.equal(m.kind, 'command');
  });

  it('a group message that mentions the bot in an allowed group: mention stripped, reply goes to the group', () => {
    const m = accepted(mapUpdate(fixture('group-mention'), env));
    assert.equal(m.text, 'how do I reset my password?');
    assert.equal(m.platformUserId, '6011122233');
    assert.equal(m.ref.chatId, GROUP);
    assert.deepEqual(m.ref.extra, { chatType: 'supergroup', messageId: 88 });
  });

  it('a reply to the bot in a group counts as addressing it', () => {
    const m = accepted(mapUpdate(fixture('group-reply-to-bot'), env));
    assert.equal(m.text, 'that did not work');
  });

  it('group messages not addressed to the bot, from groups not allowed, or commands for other bots are ignored', () => {
    assert.match(ignored(mapUpdate(fixture('group-no-mention'), env)).reason, /does not address the bot/);
    assert.match(ignored(mapUpdate(fixture('group-mention'), { ...env, allowedGroups: new Set() })).reason, /allowedGroups/);
    assert.match(ignored(mapUpdate(fixture('group-command-other-bot'), env)).reason, /does not address|another bot/);
  });

  it('asks for the bot username when a group message arrives before it is known', () => {
    const r = ignored(mapUpdate(fixture('group-mention'), { ...env, botUsername: undefined }));
    assert.equal(r.needsBotUsername, true);
  });

  it('photos: the largest size as an attachment, caption as text', () => {
    const m = accepted(mapUpdate(fixture('photo-caption'), env));
    assert.equal(m.kind, 'media');
    assert.equal(m.text, 'the box arrived broken');
    assert.deepEqual(m.attachments, [
      { name: 'photo_AQADlarge.jpg', mimeType: 'image/jpeg', fetchHandle: 'AgACAgIAAxkBAAIBZ2b_large', size: 80311 },
    ]);
  });

  it('an empty caption is fine: media with empty text', () => {
    const m = accepted(mapUpdate(fixture('photo-no-caption'), env));
    assert.equal(m.kind, 'media');
    assert.equal(m.text, '');
    assert.equal(m.attachments.length, 1);
  });

  it('a 50 MB document is metadata only (fetched later through getFile, if at all)', () => {
    const m = accepted(mapUpdate(fixture('document-50mb'), env));
    assert.deepEqual(m.attachments, [
      { name: 'invoice-scans.zip', mimeType: 'application/zip', fetchHandle: 'BQACAgIAAxkBAAIBaWb_bigzip', size: 52428800 },
    ]);
  });

  it('voice messages are audio attachments', () => {
    const m = accepted(mapUpdate(fixture('voice'), env));
    assert.deepEqual(m.attachments, [{ name: 'voice.ogg', mimeType: 'audio/ogg', fetchHandle: 'AwACAgIAAxkBAAIBamb_voice', size: 10844 }]);
  });

  it('an edited message is text with extra.edited and its own id', () => {
    const m = accepted(mapUpdate(fixture('edited-message'), env));
    assert.equal(m.kind, 'text');
    assert.equal(m.text, 'Where is my order #A-1043?');
    assert.equal(m.extra?.edited, true);
    assert.equal(m.platformMessageId, 'e5123456789_412_1735812070');
  });

  it('a button press is a button message with the label as text and the data as value', () => {
    const r = mapUpdate(fixture('callback-query'), env);
    const m = accepted(r);
    assert.equal(r.ok && r.callbackQueryId, '4382138102735428911');
    assert.equal(m.kind, 'button');
    assert.equal(m.text, 'Yes, thanks');
    assert.equal(m.buttonValue, 'csat:yes');
    assert.equal(m.platformMessageId, 'cb4382138102735428911');
    assert.equal(m.ref.chatId, '5123456789');
  });

  it('stickers, locations, unknown update types and channel posts are ignored with a reason', () => {
    assert.match(ignored(mapUpdate(fixture('sticker'), env)).reason, /stickers are not supported/);
    assert.match(ignored(mapUpdate(fixture('location'), env)).reason, /without text or supported media \(location\)/);
    assert.match(ignored(mapUpdate(fixture('my-chat-member'), env)).reason, /unsupported update type: my_chat_member/);
    assert.match(ignored(mapUpdate(fixture('channel-post'), env)).reason, /unsupported update type: channel_post/);
  });

  it('malformed updates are ignored with the field at fault, never thrown', () => {
    const r = ignored(mapUpdate({ update_id: 1, message: { message_id: 1, date: 1, text: 'x' } }, env));
    assert.match(r.reason, /malformed update: message\.chat/);
    assert.match(ignored(mapUpdate('nope', env)).reason, /malformed update/);
  });

  it('a callback without data is ignored but still carries the query id (answered anyway)', () => {
    const u = fixture('callback-query');
    const q = { ...(u.callback_query as Record<string, unknown>) };
    delete q.data;
    const r = ignored(mapUpdate({ ...u, callback_query: q }, env));
    assert.equal(r.callbackQueryId, '4382138102735428911');
  });
});
