import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { Storage } from '../core/storage/storage.js';
import type { HubQueues } from '../core/queues/hub-queues.js';
import type { HubMetrics } from '../core/metrics.js';
import { HubError, errorMessage } from '../core/errors.js';
import { type Router, sendJson } from '../http/router.js';

export interface OpsDeps {
  router: Router;
  storage: Storage;
  redis: Redis;
  queues: HubQueues;
  metrics: HubMetrics;
  stopping(): boolean;
}

/** `/healthz`, `/readyz` (storage and Redis) and Prometheus `/metrics`. */
export function mountOps(d: OpsDeps): void {
  d.router.route('GET', '/healthz', (_req, res) => sendJson(res, 200, { ok: true }));
  d.router.route('GET', '/readyz', async (_req, res) => {
    const checks: Record<string, string> = {};
    await d.storage.ping().then(
      () => (checks.storage = 'ok'),
      (e) => (checks.storage = errorMessage(e)),
    );
    await d.redis.ping().then(
      () => (checks.redis = 'ok'),
      (e) => (checks.redis = errorMessage(e)),
    );
    const ok = Object.values(checks).every((v) => v === 'ok') && !d.stopping();
    sendJson(res, ok ? 200 : 503, { ok, ...checks });
  });
  d.router.route('GET', '/metrics', async (_req, res) => {
    try {
      for (const [q, n] of Object.entries(await d.queues.depths())) d.metrics.queueDepth.set({ queue: q }, n);
    } catch {
      // Redis away: serve the rest.
    }
    const text = await d.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': d.metrics.registry.contentType });
    res.end(text);
  });
}

/** The hub's HTTP server on `host:port`, routing through `router`. */
export async function listen(router: Router, host: string, port: number, log: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    router.handle(req, res).catch((err) => log.error({ url: req.url }, `http handler failed: ${errorMessage(err)}`));
  });
  server.on('upgrade', (req, socket, head) => router.handleUpgrade(req, socket, head));
  server.on('clientError', (_err, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new HubError('NETWORK', `cannot listen on ${host}:${port}: ${err.message}`)));
    server.listen(port, host, () => resolve());
  });
  return server;
}

/** Stops taking connections; idle ones close now, busy ones after 2 s at most. */
export function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise<void>((r) => {
    server.close(() => r());
    server.closeIdleConnections();
    setTimeout(() => {
      server.closeAllConnections();
      r();
    }, 2000).unref();
  });
}
