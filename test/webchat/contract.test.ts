import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adapterContract, RecordingContext } from '../contract/adapter-contract.js';
import { webchatAdapter, webchatConfigSchema } from '../../src/adapters/webchat/index.js';
import { ChatClient } from './client.js';

adapterContract('webchat', async () => {
  const ctx = new RecordingContext();
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-webchat-'));
  // No cookieSecret: the adapter generates and persists one in dataDir.
  const adapter = webchatAdapter.create(webchatConfigSchema.parse({}), { log: ctx.log, dataDir });
  await adapter.mount(ctx);
  const server = createServer((req, res) => void ctx.router.handle(req, res).catch(() => undefined));
  server.on('upgrade', (req, socket, head) => ctx.router.handleUpgrade(req, socket, head));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const clients = new Map<string, ChatClient>();
  let seq = 0;

  return {
    adapter,
    ctx,
    async deliverText(userId, text) {
      let c = clients.get(userId);
      if (!c) {
        c = await ChatClient.connect(base);
        clients.set(userId, c);
      }
      const id = `k${++seq}`;
      const from = c.mark();
      c.send({ type: 'message', id, text });
      await c.waitFor((f) => f.type === 'ack' && f.id === id, from);
    },
    async sentTexts(chatId) {
      const c = [...clients.values()].find((x) => x.visitorId === chatId);
      if (!c) return [];
      await c.waitFor((f) => f.type === 'message' && f.author !== 'customer', 0, 3000).catch(() => undefined);
      return c.messages().map((m) => m.text);
    },
    async close() {
      for (const c of clients.values()) c.close();
      await new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
});
