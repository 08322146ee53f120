import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import cookie from '@fastify/cookie';
import Fastify, { LogController, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { HttpRateLimit } from '../core/adapter.js';
import { HubError, errorMessage } from '../core/errors.js';
import { jsonErrors, methodsByPath, notFound } from './answers.js';
import { OPENAPI_PATH, registerOpenApi } from './openapi.js';
import { registerRaw, routeUpgrades } from './raw.js';
import { rateLimitRedis, registerRateLimit } from './rate-limit.js';
import type { HttpSurface } from './surface.js';
import { trustFunction, type TrustProxy } from './trust-proxy.js';

export interface HttpServerOptions {
  /** Largest request body in bytes, unless a route says otherwise (`server.bodyLimit`). */
  bodyLimit: number;
  trustProxy: TrustProxy;
  /** The API's limit per client IP (`server.apiRateLimit`). */
  apiRateLimit: HttpRateLimit;
  /** The hub's Redis (rate limits, shared by every gateway) and its key prefix. */
  redisUrl: string;
  redisPrefix: string;
  log: Logger;
}

const API_PREFIX = '/api';
/** A client's `X-Request-Id` is kept when it looks like an id; anything else gets a fresh one. */
const REQUEST_ID = /^[\w.:-]{1,64}$/;

/** Per server: its Fastify instance and what closing it must release too. */
const closers = new WeakMap<Server, { app: FastifyInstance; release(): Promise<void> }>();

/**
 * The hub's HTTP server on Fastify, serving `surface`: the hub's own routes (ops, `/api`), the
 * adapters' raw routes and upgrades. Not listening yet; `surface` takes no more routes.
 */
export async function buildHttpServer(surface: HttpSurface, o: HttpServerOptions): Promise<{ app: FastifyInstance; close(): Promise<void> }> {
  const trust = trustFunction(o.trustProxy);
  const app = Fastify({
    loggerInstance: o.log,
    // Each request logs through a child logger carrying its reqId; request lines only at debug (below).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'reqId' }),
    requestIdHeader: false,
    genReqId: (req: IncomingMessage) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    trustProxy: trust === false ? false : trust,
    bodyLimit: o.bodyLimit,
    return503OnClosing: true,
    // An unknown field is a 400 naming it (a typo must not be dropped silently, Fastify's default).
    ajv: { customOptions: { removeAdditional: false } },
  }) as unknown as FastifyInstance;
  surface.seal('HTTP server');
  const redis = rateLimitRedis(o.redisUrl);
  redis.on('error', (err) => o.log.debug(`rate-limit redis: ${errorMessage(err)}`));
  const close = async () => {
    redis.disconnect();
  };
  try {
    app.addHook('onRequest', async (request, reply) => {
      reply.raw.setHeader('x-request-id', request.id);
      reply.raw.once('finish', () =>
        request.log.debug({ method: request.method, url: request.url, status: reply.raw.statusCode, ms: Math.round(reply.elapsedTime) }, 'http request'),
      );
    });
    jsonErrors(app);
    const methods = methodsByPath(app);
    await registerRateLimit(app, { redis, prefix: o.redisPrefix, api: o.apiRateLimit });
    // Parsing only (`RequestInfo.cookies`, upgrades included): the web chat signs its cookie itself.
    await app.register(cookie, { hook: 'onRequest' });
    await registerOpenApi(app, API_PREFIX);
    routeUpgrades(app);

    const isApi = (path: string) => path.startsWith(`${API_PREFIX}/`);
    for (const p of surface.plugins.root) await app.register(async (scope) => p(scope));
    await app.register(async (raw) =>
      registerRaw(
        raw,
        surface.routes.filter((r) => !isApi(r.path)),
        surface.upgrades,
      ),
    );
    await app.register(
      async (api) => {
        api.addHook('onRequest', api.rateLimit());
        api.setNotFoundHandler(notFound);
        // The OpenAPI document of the routes below, open like the docs it is generated for.
        api.get(OPENAPI_PATH, { config: { methodNotAllowed: false } }, async () => app.swagger());
        const raw = surface.routes.filter((r) => isApi(r.path));
        if (raw.length) await api.register(async (scope) => registerRaw(scope, raw, [], API_PREFIX));
        for (const p of surface.plugins.api) await api.register(async (scope) => p(scope));
      },
      { prefix: API_PREFIX },
    );
    await methods.answer405();
    await app.ready();
    // Limits are checked without an offline queue (fail open while Redis is away): listening before
    // the connection is up would serve the first requests unlimited and uncounted.
    if (!(await readyWithin(redis, 3000))) o.log.warn('rate-limit redis is not connected yet: limits are not enforced until it is');
  } catch (err) {
    await close();
    throw err;
  }
  return { app, close };
}

function readyWithin(redis: Redis, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ok);
    };
    const onReady = () => done(true);
    const timer = setTimeout(() => done(false), ms);
    redis.on('ready', onReady);
  });
}

/** The hub's HTTP server on `host:port`, serving `surface` through Fastify. */
export async function listen(surface: HttpSurface, host: string, port: number, o: HttpServerOptions): Promise<Server> {
  const { app, close } = await buildHttpServer(surface, o);
  try {
    await app.listen({ host, port, listenTextResolver: (address) => `HTTP server listening at ${address}` });
  } catch (err) {
    await close();
    throw new HubError('NETWORK', `cannot listen on ${host}:${port}: ${errorMessage(err)}`, { cause: err });
  }
  closers.set(app.server, { app, release: close });
  return app.server;
}

/** Stops taking connections; idle ones close now, busy ones after 2 s at most. */
export async function closeServer(server: Server | undefined): Promise<void> {
  if (!server) return;
  const served = closers.get(server);
  closers.delete(server);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((r) => {
    timer = setTimeout(r, 2000);
    timer.unref();
  });
  await Promise.race([served ? served.app.close() : new Promise<void>((r) => server.close(() => r())), late]);
  clearTimeout(timer);
  server.closeAllConnections();
  await served?.release();
}
