import { adapterContract, RecordingContext } from '../contract/adapter-contract.js';
import { startFakeTelegram } from '../fakes/telegram-bot-api.js';
import { makeAdapter, numericId } from './harness.js';

adapterContract('telegram (polling, fake Bot API)', async () => {
  const fake = await startFakeTelegram();
  const adapter = makeAdapter(fake);
  const ctx = new RecordingContext();
  await adapter.mount(ctx);
  await adapter.connect();
  return {
    adapter,
    ctx,
    deliverText: async (userId, text) => {
      fake.pushUpdate(fake.updates.text(numericId(userId), text));
    },
    sentTexts: async (chatId) => fake.sent.filter((s) => s.chat_id === chatId).map((s) => s.text),
    close: async () => {
      await adapter.stop();
      await fake.close();
    },
  };
});
