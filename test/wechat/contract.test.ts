import './quiet.js';
import { adapterContract, RecordingContext, unsupported, type Delivery } from '../contract/adapter-contract.js';
import { RATE_LIMIT_WAIT_MS } from '../../src/adapters/wechat/api-errors.js';
import { webwxRetError, wechatRig } from './helpers.js';

adapterContract<Delivery>('wechat (wechaty-puppet-mock)', async () => {
  // Pacing off (it has its own tests): the suite sends a few dozen messages.
  const rig = wechatRig({ pacing: { minIntervalMs: 0, jitterMs: 0, globalPerMinute: 60_000 } });
  const ctx = new RecordingContext();
  await rig.adapter.mount(ctx);
  await rig.adapter.connect();
  await rig.login();
  return {
    adapter: rig.adapter,
    ctx,
    deliverText: async (userId, text) => {
      const id = rig.deliverText(userId, text);
      return { redeliver: async () => rig.redeliver(id) };
    },
    sentTexts: async (chatId) => rig.puppet.sentTo(chatId).map((s) => s.text),
    failNextSend: {
      // WeChat names no wait: the adapter waits RATE_LIMIT_WAIT_MS.
      rateLimited: async () => {
        rig.puppet.failNextSend(webwxRetError(1205));
        return { retryAfterMs: RATE_LIMIT_WAIT_MS };
      },
      // A block shows only as a notice in the chat after a send that succeeded; what a puppet does
      // refuse is a conversation it does not have (a contact removed from the account, a room left).
      unreachable: async (chatId) => rig.puppet.failNextSend(new Error(`no payload found for id ${chatId}`)),
      network: async () => rig.puppet.failNextSend(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })),
    },
    acknowledged: unsupported(
      'WeChat has no acknowledgement: the puppet never redelivers a message it emitted; the adapter retries accept in memory and logs a message it could not queue as LOST (test/wechat/adapter.test.ts)',
    ),
    // The bot account's own messages come back from the puppet (its replies, or typed on the phone).
    deliverOwnMessage: async (userId, text) => void rig.user.say(text).to(rig.contact(userId)),
    close: async () => {
      await rig.adapter.stop();
      rig.cleanup();
    },
  };
});
