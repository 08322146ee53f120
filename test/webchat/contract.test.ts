import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adapterContract, RecordingContext, unsupported, until, type Delivery } from '../contract/adapter-contract.js';
import { webchatAdapter, webchatConfigSchema } from '../../src/adapters/webchat/index.js';
import { busTopic } from '../../src/adapters/webchat/sockets.js';
import { ChatClient } from './client.js';

interface FrameDelivery extends Delivery {
  client: ChatClient;
  /** The client's message id (the visitor's `platformMessageId` is `<visitorId>:<id>`). */
  id: string;
}

adapterContract<FrameDelivery>('webchat (real WebSockets)', async () => {
  const ctx = new RecordingContext();
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-webchat-'));
  // No cookieSecret: the adapter generates and persists one in dataDir.
  const adapter = await webchatAdapter.create(webchatConfigSchema.parse({}), { log: ctx.log, dataDir });
  await adapter.mount(ctx);
  const server = createServer((req, res) => void ctx.router.handle(req, res).catch(() => undefined));
  server.on('upgrade', (req, socket, head) => ctx.router.handleUpgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  /** One browser tab per user. */
  const clients = new Map<string, ChatClient>();
  let seq = 0;
  const clientOf = async (userId: string): Promise<ChatClient> => {
    let c = clients.get(userId);
    if (!c) {
      c = await ChatClient.connect(base);
      clients.set(userId, c);
    }
    return c;
  };

  return {
    adapter,
    ctx,
    async deliverText(userId, text) {
      const client = await clientOf(userId);
      const id = `k${++seq}`;
      const frame = { type: 'message', id, text };
      client.send(frame);
      // The widget resends a message with the same id until it sees the ack (after a reconnect too).
      return { client, id, redeliver: async () => client.send(frame) };
    },
    async sentTexts(chatId) {
      const c = [...clients.values()].find((x) => x.visitorId === chatId);
      return c ? c.messages().filter((m) => m.author !== 'customer').map((m) => m.text) : [];
    },
    failNextSend: {
      rateLimited: unsupported(
        "the web chat is the hub's own platform: nothing upstream answers 429 to a send (visitors are rate-limited on the way in, with RATE_LIMITED frames)",
      ),
      unreachable: unsupported(
        'a visitor cannot block the hub and an offline one reads the reply from history, so no platform answer means unreachable (only a reference that is not a visitor id is refused as RECIPIENT_UNREACHABLE)',
      ),
      // The "platform" of a reply is the Redis bus that carries it to the process holding the socket.
      network: async (chatId) => {
        let armed = true;
        ctx.failPublish = (topic, payload) => {
          if (!armed || topic !== busTopic(chatId) || !payload.includes('"author":"bot"')) return undefined;
          armed = false;
          return new Error('simulated: Redis connection lost');
        };
      },
    },
    acknowledged: async (d) => d.client.frames.some((f) => f.type === 'ack' && f.id === d.id),
    // A reply goes to every process over the bus, this one included: it must reach the tab only.
    async deliverOwnMessage(userId, text) {
      const client = await clientOf(userId);
      await adapter.send({ id: `own-${++seq}`, conversationId: 'c', ref: { channel: 'webchat', chatId: client.visitorId }, text, author: 'bot' });
      await until(() => client.messages().some((m) => m.text === text), 5000, 'the reply in the tab');
    },
    async close() {
      for (const c of clients.values()) c.close();
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
