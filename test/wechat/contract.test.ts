import './quiet.js';
import { adapterContract, RecordingContext } from '../contract/adapter-contract.js';
import { wechatRig } from './helpers.js';

adapterContract('wechat', async () => {
  const rig = wechatRig();
  const ctx = new RecordingContext();
  await rig.adapter.mount(ctx);
  await rig.adapter.connect();
  await rig.login();
  return {
    adapter: rig.adapter,
    ctx,
    deliverText: async (userId, text) => {
      rig.contact(userId).say(text).to(rig.user);
    },
    sentTexts: async (chatId) => rig.puppet.sentTo(chatId).map((s) => s.text),
    close: async () => {
      await rig.adapter.stop();
      rig.cleanup();
    },
  };
});
