import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { adapterContract, RecordingContext, type ContractHarness, type Delivery } from '../contract/adapter-contract.js';
import { startFakeTelegram, type FakeTelegram, type Update } from '../fakes/telegram-bot-api.js';
import { makeAdapter, numericId } from './harness.js';

const SECRET = 'contract-secret_0123456789';

/** What both modes share: sends go to the fake Bot API, which answers as Telegram does. */
function sendSide(fake: FakeTelegram): Pick<ContractHarness, 'sentTexts' | 'failNextSend'> {
  return {
    sentTexts: async (chatId) => fake.sent.filter((s) => s.chat_id === chatId).map((s) => s.text),
    failNextSend: {
      rateLimited: async () => {
        fake.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 7', parameters: { retry_after: 7 } });
        return { retryAfterMs: 7000 };
      },
      unreachable: async () => fake.failNext('sendMessage', { error_code: 403, description: 'Forbidden: bot was blocked by the user' }),
      network: async () => fake.failNext('sendMessage', 'network'),
    },
  };
}

/**
 * A message from the bot itself in the user's chat. Telegram never sends a bot its own messages;
 * the fake does, to check that the mapper's `from.is_bot` guard keeps the bot from answering itself.
 */
function ownMessage(fake: FakeTelegram, userId: string, text: string): Record<string, unknown> {
  const chatId = numericId(userId);
  const { reply_markup: _none, ...message } = fake.updates.botMessage(chatId, text, []);
  return { message };
}

interface PolledDelivery extends Delivery {
  update: Update;
}

adapterContract<PolledDelivery>('telegram (long polling, fake Bot API)', async () => {
  const fake = await startFakeTelegram();
  const adapter = makeAdapter(fake);
  const ctx = new RecordingContext();
  await adapter.mount(ctx);
  await adapter.connect();
  return {
    adapter,
    ctx,
    ...sendSide(fake),
    deliverText: async (userId, text) => {
      const update = fake.pushUpdate(fake.updates.text(numericId(userId), text));
      return { update, redeliver: async () => fake.redeliver(update) };
    },
    // Polling acknowledges by asking getUpdates for the updates after it (offset > update_id).
    acknowledged: async (d) => fake.callsOf('getUpdates').some((c) => Number(c.params.offset ?? 0) > d.update.update_id),
    deliverOwnMessage: async (userId, text) => void fake.pushUpdate(ownMessage(fake, userId, text)),
    close: async () => {
      await adapter.stop();
      await fake.close();
    },
  };
});

interface PostedDelivery extends Delivery {
  /** HTTP statuses of the webhook calls for this update so far. */
  statuses: number[];
}

adapterContract<PostedDelivery>('telegram (webhook, fake Bot API)', async () => {
  const fake = await startFakeTelegram();
  const adapter = makeAdapter(fake, { mode: 'webhook', webhook: { secretToken: SECRET } });
  const ctx = new RecordingContext();
  await adapter.mount(ctx);
  const server = createServer((req, res) => void ctx.router.handle(req, res).catch(() => undefined));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/telegram`;
  let nextUpdateId = 900_000;
  /** Telegram's side of a webhook call: POST the update, note the answer (it retries on non-2xx). */
  const post = (update: Record<string, unknown>, statuses: number[]): void => {
    void fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-telegram-bot-api-secret-token': SECRET },
      body: JSON.stringify(update),
    })
      .then(async (res) => {
        await res.arrayBuffer();
        statuses.push(res.status);
      })
      .catch(() => statuses.push(0));
  };
  return {
    adapter,
    ctx,
    ...sendSide(fake),
    deliverText: async (userId, text) => {
      const update = { update_id: ++nextUpdateId, ...fake.updates.text(numericId(userId), text) };
      const statuses: number[] = [];
      post(update, statuses);
      return { statuses, redeliver: async () => post(update, statuses) };
    },
    acknowledged: async (d) => d.statuses.some((s) => s >= 200 && s < 300),
    deliverOwnMessage: async (userId, text) => post({ update_id: ++nextUpdateId, ...ownMessage(fake, userId, text) }, []),
    close: async () => {
      await adapter.stop();
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await fake.close();
    },
  };
});
