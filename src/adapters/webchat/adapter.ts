import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AdapterContext, ChannelAdapter, HttpRateLimit, RequestInfo } from '../../core/adapter.js';
import { HubError, errorMessage } from '../../core/errors.js';
import { RateLimiter } from '../../core/rate-limit.js';
import type { Capabilities, OutboundMessage, SendResult } from '../../core/types.js';
import type { AdapterDeps } from '../define.js';
import { sendJson } from '../../http/router.js';
import { loadAssets, serveAsset, type PageAssets } from './assets.js';
import type { WebchatConfig } from './config.js';
import { HARD_FRAME_LIMIT, RecentIds, serveConnection, type ConnectionDeps } from './connection.js';
import { CHANNEL, toServerMessage } from './mapper.js';
import {
  COOKIE_NAME,
  VisitorSigner,
  acceptLanguage,
  cleanLocale,
  isHttps,
  isSameOrigin,
  loadSecret,
  originAllowed,
  visitorCookie,
  VISITOR_ID_RE,
} from './session.js';
import { SocketRegistry, busTopic, encodeBus } from './sockets.js';

/**
 * Per client IP and route (the page, session calls, WebSocket upgrades): kept in Redis by the hub's
 * server, so every gateway counts the same calls. About the old 5/s with bursts of 40.
 */
const IP_HTTP: HttpRateLimit = { max: 50, windowMs: 10_000 };
const HEARTBEAT_MS = 30_000;
const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'";

interface Mounted {
  ctx: AdapterContext;
  signer: VisitorSigner;
  assets: PageAssets;
  registry: SocketRegistry;
  wss: WebSocketServer;
  conn: ConnectionDeps;
  heartbeat: NodeJS.Timeout;
}

export class WebchatAdapter implements ChannelAdapter {
  readonly channel = CHANNEL;
  readonly capabilities: Capabilities = { threads: false, buttons: true, maxTextLength: 4000, attachments: false, authorNames: true };
  readonly connection = 'stateless' as const;
  readonly sendNeedsConnection = false;
  private m: Mounted | undefined;
  private stopped = false;
  private readonly pendingCookies = new WeakMap<IncomingMessage, string>();
  private readonly alive = new WeakSet<WebSocket>();

  constructor(
    private readonly config: WebchatConfig,
    private readonly deps: AdapterDeps,
  ) {}

  async mount(ctx: AdapterContext): Promise<void> {
    const signer = new VisitorSigner(await loadSecret(this.config.cookieSecret, this.deps.dataDir));
    const assets = await loadAssets(this.config.title);
    const registry = new SocketRegistry(ctx.bus, ctx.log);
    const wss = new WebSocketServer({ noServer: true, maxPayload: HARD_FRAME_LIMIT, perMessageDeflate: false });
    wss.on('headers', (headers, req) => {
      const c = this.pendingCookies.get(req);
      if (c) headers.push(`Set-Cookie: ${c}`);
    });
    const { perSecond, burst } = this.config.rateLimit;
    const conn: ConnectionDeps = {
      ctx,
      registry,
      perVisitor: new RateLimiter(perSecond, burst),
      perIp: new RateLimiter(perSecond * 5, burst * 5),
      perSocket: new RateLimiter(20, 60),
      recent: new RecentIds(),
      ...(this.config.identitySecret ? { identitySecret: this.config.identitySecret } : {}),
      now: Date.now,
    };
    const heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    heartbeat.unref();
    this.m = { ctx, signer, assets, registry, wss, conn, heartbeat };

    ctx.http.route('GET', '/', (req, res, info) => this.page(req, res, info), { rateLimit: IP_HTTP });
    ctx.http.route('GET', '/widget.js', (req, res) => serveAsset(req, res, assets.widget, { 'cross-origin-resource-policy': 'cross-origin' }));
    ctx.http.route('GET', '/webchat/session', (req, res, info) => this.session(req, res, info), { rateLimit: IP_HTTP });
    ctx.http.route('GET', '/webchat/*', (req, res) => {
      const name = (req.url ?? '').split('?')[0]?.slice('/webchat/'.length) ?? '';
      const a = assets.files.get(name);
      if (!a) return sendJson(res, 404, { error: 'not found' });
      serveAsset(req, res, a, { 'cross-origin-resource-policy': 'cross-origin' });
    });
    ctx.http.upgrade('/webchat/ws', (req, socket, head, info) => this.upgrade(req, socket, head, info), { rateLimit: IP_HTTP });
  }

  async send(message: OutboundMessage): Promise<SendResult> {
    const m = this.m;
    if (!m) throw new HubError('INTERNAL', 'webchat adapter is not mounted', { retry: 'retry' });
    const visitorId = message.ref.chatId;
    if (!VISITOR_ID_RE.test(visitorId)) {
      throw new HubError('RECIPIENT_UNREACHABLE', `not a web chat visitor id: "${visitorId.slice(0, 40)}"`, { retry: 'final' });
    }
    try {
      await m.ctx.bus.publish(busTopic(visitorId), encodeBus(toServerMessage(message), Date.now()));
    } catch (err) {
      throw new HubError('NETWORK', `webchat publish failed: ${errorMessage(err)}`, { cause: err, retry: 'retry' });
    }
    return { platformMessageIds: [message.id] };
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const m = this.m;
    if (!m) return;
    clearInterval(m.heartbeat);
    await m.registry.closeAll();
    await new Promise<void>((r) => m.wss.close(() => r()));
  }

  /** Closes every chat socket of this process (1012: browsers reconnect and resend). Ops and tests. */
  dropConnections(): void {
    for (const ws of this.m?.registry.allSockets() ?? []) ws.close(1012, 'service restart');
  }

  /** The visitor of a request: a signed token (embeds), else the signed cookie, else a new one. */
  private visitor(info: RequestInfo, token: string | null): { id: string; fromCookie: boolean; fromToken: boolean } {
    const signer = this.mounted().signer;
    const fromToken = signer.verify(token);
    if (fromToken) return { id: fromToken, fromCookie: false, fromToken: true };
    const fromCookie = signer.verify(info.cookies[COOKIE_NAME]);
    if (fromCookie) return { id: fromCookie, fromCookie: true, fromToken: false };
    return { id: signer.newVisitorId(), fromCookie: false, fromToken: false };
  }

  private cookieFor(info: RequestInfo, visitorId: string): string {
    return visitorCookie(this.mounted().signer.sign(visitorId), isHttps(info, this.deps.publicUrl));
  }

  private page(req: IncomingMessage, res: ServerResponse, info: RequestInfo): void {
    const m = this.mounted();
    const v = this.visitor(info, null);
    const extra: Record<string, string> = {
      'content-security-policy': PAGE_CSP,
      'referrer-policy': 'no-referrer',
      'x-frame-options': 'SAMEORIGIN',
    };
    if (!v.fromCookie) res.setHeader('set-cookie', this.cookieFor(info, v.id));
    serveAsset(req, res, m.assets.page, extra);
  }

  /**
   * For the embed: sets the cookie and, to a cross-origin caller that is allowed, returns the signed
   * token too (third-party cookies are often blocked, and SameSite=None needs https).
   */
  private session(req: IncomingMessage, res: ServerResponse, info: RequestInfo): void {
    const origin = req.headers.origin;
    const cross = origin !== undefined && !isSameOrigin(req);
    if (cross && !originAllowed(req, this.config.allowedOrigins)) return sendJson(res, 403, { error: 'origin not allowed' });
    const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token');
    const v = this.visitor(info, token);
    if (cross) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('access-control-allow-credentials', 'true');
      res.setHeader('vary', 'Origin');
    }
    if (!v.fromCookie) res.setHeader('set-cookie', this.cookieFor(info, v.id));
    res.setHeader('cache-control', 'no-store');
    sendJson(res, 200, {
      visitorId: v.id,
      ...(this.config.title ? { title: this.config.title } : {}),
      ...(cross ? { token: this.mounted().signer.sign(v.id) } : {}),
    });
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, info: RequestInfo): void {
    const m = this.m;
    if (!m || this.stopped) return refuse(socket, 503, 'Service Unavailable');
    const ip = info.ip;
    if (!originAllowed(req, this.config.allowedOrigins)) return refuse(socket, 403, 'Forbidden');
    const url = new URL(req.url ?? '/', 'http://x');
    const v = this.visitor(info, url.searchParams.get('token'));
    if (!v.fromCookie && !v.fromToken) this.pendingCookies.set(req, this.cookieFor(info, v.id));
    const locale = cleanLocale(url.searchParams.get('lang')) ?? acceptLanguage(req);
    m.wss.handleUpgrade(req, socket, head, (ws) => {
      this.alive.add(ws);
      ws.on('pong', () => this.alive.add(ws));
      serveConnection(m.conn, ws, { visitorId: v.id, ...(locale ? { locale } : {}) }, ip);
    });
  }

  /** Drops sockets that did not answer the last ping (a laptop lid closed, a dead NAT mapping). */
  private beat(): void {
    for (const ws of this.m?.registry.allSockets() ?? []) {
      if (!this.alive.has(ws)) {
        ws.terminate();
        continue;
      }
      this.alive.delete(ws);
      ws.ping();
    }
  }

  private mounted(): Mounted {
    if (!this.m) throw new HubError('INTERNAL', 'webchat adapter is not mounted');
    return this.m;
  }
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${text.length}\r\n\r\n${text}`);
}
