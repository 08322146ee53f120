import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { HubConfig } from './config-schema.js';
import type { Storage } from '../core/storage/storage.js';
import type { HubQueues } from '../core/queues/hub-queues.js';
import type { HubMetrics } from '../core/metrics.js';
import { errorMessage } from '../core/errors.js';
import type { HttpSurface } from '../http/surface.js';
import type { HttpServerOptions } from '../http/server.js';
import { authLogFields, type TokenAuth } from '../api/tokens.js';
import { mountApi, type ApiDeps } from '../api/routes.js';
import { MessageTemplates } from '../api/templates.js';

/** The public API under /api, with the message templates of `<configDir>/templates/messages.yaml`. */
export function mountPublicApi(router: HttpSurface, configDir: string, d: Omit<ApiDeps, 'templates'>): void {
  const templates = MessageTemplates.load(join(configDir, 'templates', 'messages.yaml'));
  router.api((app) => mountApi(app, { ...d, templates }));
}

export interface OpsDeps {
  router: HttpSurface;
  storage: Storage;
  redis: Redis;
  queues: HubQueues;
  metrics: HubMetrics;
  /** `/metrics` requires a token with the `admin` role (api.tokens). */
  auth: TokenAuth;
  stopping(): boolean;
}

/** `/healthz`, `/readyz` (storage and Redis), open, and Prometheus `/metrics` (an `admin` token), as Fastify routes (hooks such as a `preHandler` go in their options). */
export function mountOps(d: OpsDeps): void {
  d.router.plugin((app) => {
    app.get('/healthz', async () => ({ ok: true }));

    app.get('/readyz', async (_request, reply) => {
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
      return reply.code(ok ? 200 : 503).send({ ok, ...checks });
    });

    app.get('/metrics', async (request, reply) => {
      const auth = d.auth.authorize(request.headers.authorization, 'admin');
      if (!auth.ok) {
        request.log.warn({ ...authLogFields(auth), route: 'GET /metrics' }, `metrics refused: ${auth.status}`);
        return reply.code(auth.status).headers(auth.headers).send({ error: auth.error });
      }
      request.log.debug({ ...authLogFields(auth), route: 'GET /metrics' }, 'metrics served');
      try {
        for (const [q, n] of Object.entries(await d.queues.depths())) d.metrics.queueDepth.set({ queue: q }, n);
      } catch {
        // Redis away: serve the rest.
      }
      return reply.type(d.metrics.registry.contentType).send(await d.metrics.registry.metrics());
    });
  });
}

export { closeServer, listen } from '../http/server.js';
export { setupWorkflows } from './workflows.js';

/** The HTTP server's options from hub.yaml. */
export function httpOptions(cfg: HubConfig, log: Logger): HttpServerOptions {
  return {
    bodyLimit: cfg.server.bodyLimit,
    trustProxy: cfg.server.trustProxy,
    apiRateLimit: { max: cfg.server.apiRateLimit.max, windowMs: cfg.server.apiRateLimit.windowSeconds * 1000 },
    redisUrl: cfg.redis.url,
    redisPrefix: cfg.redis.prefix,
    log,
  };
}
