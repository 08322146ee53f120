import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { parseCookie } from 'cookie';
import type { HttpHandler, HttpRoutes, RequestInfo, RouteOptions, UpgradeHandler } from '../core/adapter.js';
import { HubError } from '../core/errors.js';

export interface RouteEntry {
  method: string;
  /** As registered: exact, or a prefix ending with `*`. */
  path: string;
  handler: HttpHandler;
  options: RouteOptions;
}

export interface UpgradeEntry {
  path: string;
  handler: UpgradeHandler;
  options: Pick<RouteOptions, 'rateLimit'>;
}

/**
 * The routes adapters and desks register through the `HttpRoutes` port. The hub serves them
 * through Fastify (`src/http/server.ts`); `handle` / `handleUpgrade` dispatch them directly, for
 * adapter tests without a hub (no body limits, no rate limits, the peer's address as the client IP).
 */
export class Router implements HttpRoutes {
  protected readonly routeList: RouteEntry[] = [];
  protected readonly upgradeList: UpgradeEntry[] = [];
  private sealedBy: string | undefined;

  route(method: string, path: string, handler: HttpHandler, options: RouteOptions = {}): void {
    this.assertOpen(`${method.toUpperCase()} ${path}`);
    this.routeList.push({ method: method.toUpperCase(), path, handler, options });
  }

  upgrade(path: string, handler: UpgradeHandler, options: Pick<RouteOptions, 'rateLimit'> = {}): void {
    this.assertOpen(`upgrade ${path}`);
    this.upgradeList.push({ path, handler, options });
  }

  get routes(): readonly RouteEntry[] {
    return this.routeList;
  }

  get upgrades(): readonly UpgradeEntry[] {
    return this.upgradeList;
  }

  /** From now on a new route is an error (the server serving this table is built). */
  seal(by: string): void {
    this.sealedBy = by;
  }

  protected assertOpen(what: string): void {
    if (this.sealedBy) {
      throw new HubError('INTERNAL', `route ${what} registered after the ${this.sealedBy} started: register routes in mount`);
    }
  }

  /** Direct dispatch (adapter tests): first matching route; 404 / 405 as JSON. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req);
    const matches = this.routeList.filter((r) => matchesPath(r.path, path));
    const route = matches.find((r) => r.method === req.method || (r.method === 'GET' && req.method === 'HEAD'));
    if (!route) {
      sendJson(res, matches.length ? 405 : 404, { error: matches.length ? 'method not allowed' : 'not found' });
      return;
    }
    try {
      await route.handler(req, res, peerInfo(req));
    } catch (err) {
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
      throw err;
    }
  }

  /** Direct dispatch of an upgrade (adapter tests). */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = pathOf(req);
    const u = this.upgradeList.find((x) => x.path === path);
    if (!u) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    u.handler(req, socket, head, peerInfo(req));
  }
}

function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0] ?? '/';
}

function matchesPath(pattern: string, path: string): boolean {
  return pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : path === pattern;
}

/** Without a server in front: the peer is the client. */
function peerInfo(req: IncomingMessage): RequestInfo {
  const socket = req.socket as (IncomingMessage['socket'] & { encrypted?: boolean }) | undefined;
  const header = req.headers.cookie;
  // Parsed as @fastify/cookie does on the hub (same parser), so adapter tests see the same cookies.
  const cookies = header ? parseCookie(header) : {};
  return {
    id: randomUUID(),
    ip: socket?.remoteAddress ?? 'unknown',
    https: socket?.encrypted === true,
    cookies: Object.fromEntries(Object.entries(cookies).filter((e): e is [string, string] => e[1] !== undefined)),
  };
}

/** Constant-time comparison of two secrets (of their digests, so the length does not leak either). */
export function safeEqual(given: string, secret: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(secret, 'utf8').digest();
  return timingSafeEqual(a, b);
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Bodies the hub's server read already (within the route's limit): `readBody` hands them over as they are. */
const readByServer = new WeakMap<IncomingMessage, Buffer>();

/** Marks `req` as carrying `body`, read by the server within the route's body limit. */
export function bodyReadByServer(req: IncomingMessage, body: Buffer): void {
  readByServer.set(req, body);
}

/**
 * A request's body. Behind the hub's server it was read already within the route's limit (413
 * there); elsewhere (adapter tests) it is read here up to `limit` bytes, and rejects with status 413
 * beyond it while the rest is drained, so the caller can still answer.
 */
export function readBody(req: IncomingMessage, limit = 1_048_576): Promise<Buffer> {
  const known = readByServer.get(req);
  if (known) return Promise.resolve(known);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.off('data', onData);
        req.off('end', onEnd);
        req.resume(); // drain what is left; the caller answers 413
        reject(Object.assign(new Error(`body over ${limit} bytes`), { status: 413 }));
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', reject);
  });
}
