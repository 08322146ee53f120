import { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type {} from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions as FastifyRouteOptions } from 'fastify';
import type { HttpRateLimit, RequestInfo } from '../core/adapter.js';
import { errorMessage } from '../core/errors.js';
import { bodyReadByServer, sendJson, type RouteEntry, type UpgradeEntry } from './router.js';
import { clientKey } from './rate-limit.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The route takes the upgrades of its path (`HttpRoutes.upgrade`). */
    upgrade?: boolean;
  }
}

/** Upgrade requests on their way through Fastify's routing, with the socket and head the handler gets. */
const upgrading = new WeakMap<IncomingMessage, { socket: Duplex; head: Buffer }>();

/**
 * Passes `server`'s upgrade requests through Fastify's routing (the technique of
 * @fastify/websocket): hooks, rate limits, request ids and the client IP apply to them like to any
 * request, and the route's handler is handed the socket. Answered over HTTP instead (404, 429), the
 * socket is closed after the answer.
 */
export function routeUpgrades(app: FastifyInstance): void {
  app.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', (err) => app.log.debug(`upgrade socket: ${errorMessage(err)}`));
    upgrading.set(req, { socket, head });
    const res = new ServerResponse(req);
    res.assignSocket(socket as Socket);
    res.on('finish', () => socket.end());
    app.routing(req, res);
  });
  // An upgrade request for a plain route: 404 as for an unknown path (it never reaches the handler).
  app.addHook('onRequest', async (request, reply) => {
    if (upgrading.has(request.raw) && request.routeOptions.config.upgrade !== true && !request.is404) {
      await reply.code(404).send({ error: `no upgrade on ${pathOf(request.url)}` });
    }
  });
}

/**
 * Registers the adapters' routes in `scope` (prefix `prefix` stripped from their paths): bodies are
 * read as bytes within the route's limit (413 beyond it, before the handler) and handed to the raw
 * handler as its request stream; the handler owns the response.
 */
export function registerRaw(scope: FastifyInstance, routes: readonly RouteEntry[], upgrades: readonly UpgradeEntry[], prefix = ''): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  const upgradeByPath = new Map(upgrades.map((u) => [u.path, u]));
  for (const r of routes) {
    const up = r.method === 'GET' ? upgradeByPath.get(r.path) : undefined;
    if (up) upgradeByPath.delete(r.path);
    scope.route({
      method: r.method,
      url: toFastifyPath(r.path, prefix),
      ...(r.options.bodyLimit !== undefined ? { bodyLimit: r.options.bodyLimit } : {}),
      ...(up ? { exposeHeadRoute: false } : {}),
      config: { upgrade: up !== undefined, ...rateLimitConfig(up?.options.rateLimit ?? r.options.rateLimit) },
      handler: async (request, reply) => {
        if (up && upgrading.has(request.raw)) return upgradeTo(up, request, reply);
        reply.hijack();
        const body = request.body;
        const req = Buffer.isBuffer(body) ? replay(request.raw, body) : request.raw;
        try {
          await r.handler(req, reply.raw, infoOf(request));
        } catch (err) {
          request.log.error(`http handler failed: ${errorMessage(err)}`);
          if (!reply.raw.headersSent) sendJson(reply.raw, 500, { error: 'internal error' });
          else reply.raw.destroy();
        }
      },
    } satisfies FastifyRouteOptions);
  }
  for (const up of upgradeByPath.values()) {
    scope.route({
      method: 'GET',
      url: toFastifyPath(up.path, prefix),
      exposeHeadRoute: false,
      config: { upgrade: true, ...rateLimitConfig(up.options.rateLimit) },
      handler: async (request, reply) => {
        if (upgrading.has(request.raw)) return upgradeTo(up, request, reply);
        return reply.code(426).header('upgrade', 'websocket').send({ error: `${pathOf(request.url)} takes WebSocket upgrades only` });
      },
    });
  }
}

function upgradeTo(up: UpgradeEntry, request: FastifyRequest, reply: FastifyReply): void {
  const pending = upgrading.get(request.raw);
  if (!pending) return;
  reply.hijack();
  reply.raw.detachSocket(pending.socket as Socket);
  try {
    up.handler(request.raw, pending.socket, pending.head, infoOf(request));
  } catch (err) {
    request.log.error(`upgrade handler failed: ${errorMessage(err)}`);
    pending.socket.destroy();
  }
}

export function infoOf(request: FastifyRequest): RequestInfo {
  return { id: request.id, ip: request.ip, https: request.protocol === 'https', cookies: cookiesOf(request) };
}

/**
 * The cookies @fastify/cookie parsed on `onRequest` (server.ts registers it at the root, so raw
 * routes and upgrades alike have them); none where it was not registered.
 */
function cookiesOf(request: FastifyRequest): Readonly<Record<string, string>> {
  const cookies: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(request.cookies ?? {})) if (value !== undefined) cookies[name] = value;
  return cookies;
}

function rateLimitConfig(limit: HttpRateLimit | undefined): { rateLimit?: { max: number; timeWindow: number; keyGenerator: (r: FastifyRequest) => string } } {
  return limit ? { rateLimit: { max: limit.max, timeWindow: limit.windowMs, keyGenerator: clientKey } } : {};
}

/** A registered path in find-my-way's syntax: `*` stays the trailing wildcard, a `:` is literal. */
function toFastifyPath(path: string, prefix: string): string {
  const rest = prefix && path.startsWith(`${prefix}/`) ? path.slice(prefix.length) : path;
  const wildcard = rest.endsWith('*');
  const literal = (wildcard ? rest.slice(0, -1) : rest).replaceAll(':', '::');
  return wildcard ? `${literal}*` : literal;
}

function pathOf(url: string): string {
  return url.split('?')[0] ?? '/';
}

/**
 * The request as the handler sees it: same socket, method, url and headers, its stream holding the
 * body the server read (unchanged bytes: signatures over the raw body still verify).
 */
function replay(raw: IncomingMessage, body: Buffer): IncomingMessage {
  const req = new IncomingMessage(raw.socket);
  req.httpVersion = raw.httpVersion;
  req.httpVersionMajor = raw.httpVersionMajor;
  req.httpVersionMinor = raw.httpVersionMinor;
  req.method = raw.method ?? 'POST';
  req.url = raw.url ?? '/';
  req.headers = raw.headers;
  req.rawHeaders = raw.rawHeaders;
  req.complete = true;
  req.push(body);
  req.push(null);
  bodyReadByServer(req, body);
  return req;
}
