import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WebSocketServer } from 'ws';
import type { AdapterContext, ChannelAdapter, HttpRateLimit, RequestInfo } from '../../src/core/adapter.js';
import type { Capabilities, SendResult } from '../../src/core/types.js';
import { readBody, sendJson } from '../../src/http/router.js';

/**
 * A channel that only hangs routes on the hub through the `HttpRoutes` port, as an adapter does:
 * `POST /t/echo` (default body limit), `POST /t/small` (`bodyLimit: 64`), `GET /t/limited` (rate
 * limited), `GET /t/info`, `/t/files/*`, `GET /api/t/raw` (under the API's limit), `GET /t/boom` (throws)
 * and the WebSocket `/t/ws-info` (its one message: the upgrade's `RequestInfo`). Each answers what it saw: body bytes, client info.
 */
export class RoutesAdapter implements ChannelAdapter {
  readonly channel = 'routes-test';
  readonly capabilities: Capabilities = { threads: false, buttons: false, maxTextLength: 100, attachments: false, authorNames: false };
  readonly connection = 'stateless' as const;
  readonly sendNeedsConnection = false;
  readonly seen: RequestInfo[] = [];
  private readonly wss = new WebSocketServer({ noServer: true });

  constructor(private readonly limit: HttpRateLimit = { max: 3, windowMs: 60_000 }) {}

  async mount(ctx: AdapterContext): Promise<void> {
    const echo = async (req: IncomingMessage, res: ServerResponse, info: RequestInfo) => {
      this.seen.push(info);
      const body = await readBody(req);
      // Read the stream too: a handler that reads the request itself (Bolt does) gets the same bytes.
      sendJson(res, 200, { bytes: body.length, sha: createHash('sha256').update(body).digest('hex'), info });
    };
    ctx.http.route('POST', '/t/echo', echo);
    ctx.http.route('POST', '/t/small', echo, { bodyLimit: 64 });
    ctx.http.route('POST', '/t/stream', async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      sendJson(res, 200, { bytes: Buffer.concat(chunks).length });
    });
    ctx.http.route('GET', '/t/info', (_req, res, info) => sendJson(res, 200, info));
    ctx.http.route('GET', '/t/limited', (_req, res, info) => sendJson(res, 200, info), { rateLimit: this.limit });
    ctx.http.route('GET', '/t/files/*', (req, res) => sendJson(res, 200, { url: req.url }));
    ctx.http.route('GET', '/api/t/raw', (_req, res, info) => sendJson(res, 200, info));
    ctx.http.route('GET', '/t/boom', () => {
      throw new Error('handler bug');
    });
    ctx.http.upgrade('/t/ws-info', (req, socket, head, info) =>
      this.wss.handleUpgrade(req, socket, head, (ws) => ws.send(JSON.stringify(info), () => ws.close())),
    );
  }

  async send(): Promise<SendResult> {
    return { platformMessageIds: [] };
  }

  async stop(): Promise<void> {
    this.wss.close();
  }
}
