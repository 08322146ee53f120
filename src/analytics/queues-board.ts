/**
 * Queue health at `/console/queues` through bull-board, behind the injected guard (role admin).
 * The board lists every BullMQ queue under the hub's prefix (found by their `meta` keys, refreshed
 * at most every 30 s, so queues made after boot show up too) plus the names given.
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { Queue } from 'bullmq';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Guard } from './guard.js';

type BoardServerAdapter = Parameters<typeof createBullBoard>[0]['serverAdapter'];

export const QUEUES_PATH = '/console/queues';
const REFRESH_MS = 30_000;

async function queueNames(redis: Redis, prefix: string): Promise<string[]> {
  const names = new Set<string>();
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*:meta`, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) names.add(k.slice(prefix.length + 1, -':meta'.length));
  } while (cursor !== '0');
  return [...names];
}

/**
 * bull-board's entry route is '/' under its prefix, which Fastify serves as both `/console/queues`
 * and `/console/queues/` but reports to onRoute hooks only in part (the hub's 405 answers then
 * collide with it). Serve the entry at `/console/queues` alone; the slash form redirects to it.
 */
class BoardAdapter extends FastifyAdapter {
  override setEntryRoute(def: Parameters<FastifyAdapter['setEntryRoute']>[0]): FastifyAdapter {
    return super.setEntryRoute({ ...def, route: ([] as string[]).concat(def.route).map((r) => (r === '/' ? '' : r)) });
  }
}

export interface QueuesBoard {
  close(): Promise<void>;
}

export function mountQueuesBoard(app: FastifyInstance, d: { guard: Guard; redis: Redis; prefix: string; known: readonly string[] }): QueuesBoard {
  const queues = new Map<string, Queue>();
  const serverAdapter = new BoardAdapter();
  serverAdapter.setBasePath(QUEUES_PATH);
  // @bull-board/fastify 9.10.1 ships its own copy of @bull-board/api (we have 9.10.2): the same
  // adapter contract in two declarations, so TypeScript needs telling that they match.
  const adapter = serverAdapter as unknown as BoardServerAdapter;
  const board = createBullBoard({ queues: [], serverAdapter: adapter, options: { uiConfig: { boardTitle: 'Switchboard queues' } } });
  let refreshedAt = 0;
  const refresh = async () => {
    if (Date.now() - refreshedAt < REFRESH_MS) return;
    refreshedAt = Date.now();
    const names = new Set([...d.known, ...(await queueNames(d.redis, d.prefix))]);
    let changed = false;
    for (const name of [...names].sort()) {
      if (queues.has(name)) continue;
      queues.set(name, new Queue(name, { connection: d.redis, prefix: d.prefix }));
      changed = true;
    }
    if (changed) board.replaceQueues([...queues.values()].map((q) => new BullMQAdapter(q, { readOnlyMode: false })));
  };
  void app.register(
    async (child) => {
      child.addHook('onRequest', async (request, reply) => {
        if (!(await d.guard(request, reply, 'admin'))) return reply;
        await refresh();
        return undefined;
      });
      child.get(`${QUEUES_PATH}/`, async (_request, reply) => reply.redirect(QUEUES_PATH));
      await child.register(serverAdapter.registerPlugin(), { prefix: QUEUES_PATH });
    },
  );
  return { close: async () => void (await Promise.all([...queues.values()].map((q) => q.close().catch(() => undefined)))) };
}
