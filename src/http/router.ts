import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { HttpHandler, HttpRoutes, UpgradeHandler } from '../core/adapter.js';

interface Route {
  method: string;
  path: string;
  prefix: boolean;
  handler: HttpHandler;
}

/** The hub's tiny HTTP router: exact paths, or prefixes ending in `*`. */
export class Router implements HttpRoutes {
  private readonly routes: Route[] = [];
  private readonly upgrades = new Map<string, UpgradeHandler>();

  route(method: string, path: string, handler: HttpHandler): void {
    const prefix = path.endsWith('*');
    this.routes.push({ method: method.toUpperCase(), path: prefix ? path.slice(0, -1) : path, prefix, handler });
  }

  upgrade(path: string, handler: UpgradeHandler): void {
    this.upgrades.set(path, handler);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const matches = this.routes.filter((r) => (r.prefix ? path.startsWith(r.path) : path === r.path));
    const route = matches.find((r) => r.method === req.method || (r.method === 'GET' && req.method === 'HEAD'));
    if (!route) {
      sendJson(res, matches.length ? 405 : 404, { error: matches.length ? 'method not allowed' : 'not found' });
      return;
    }
    try {
      await route.handler(req, res);
    } catch (err) {
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
      throw err;
    }
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const h = this.upgrades.get(path);
    if (!h) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    h(req, socket, head);
  }
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

/** Reads a request body up to `limit` bytes; rejects with status 413 beyond it. */
export function readBody(req: IncomingMessage, limit = 1_048_576): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(Object.assign(new Error(`body over ${limit} bytes`), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
