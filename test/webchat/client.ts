import { WebSocket } from 'ws';
import type { ServerFrame } from '../../src/adapters/webchat/mapper.js';

export interface ConnectOptions {
  /** `sb_wc=...`; undefined: no cookie (a first visit). */
  cookie?: string | undefined;
  origin?: string;
  /** Query string after `?` (e.g. `lang=zh-CN&token=...`). */
  query?: string;
}

/** A browser stand-in speaking the web chat protocol over a real WebSocket. */
export class ChatClient {
  readonly frames: ServerFrame[] = [];
  visitorId = '';
  /** `sb_wc=...` from the upgrade response's Set-Cookie, or the cookie passed in. */
  cookie: string | undefined;
  setCookie: string | undefined;
  closed: { code: number; reason: string } | undefined;
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {}

  /** Connects and waits for `hello` and the first `history` frame. */
  static async connect(baseUrl: string, opts: ConnectOptions = {}): Promise<ChatClient> {
    const url = `${baseUrl.replace(/^http/, 'ws')}/webchat/ws${opts.query ? `?${opts.query}` : ''}`;
    const ws = new WebSocket(url, {
      ...(opts.cookie ? { headers: { cookie: opts.cookie } } : {}),
      ...(opts.origin ? { origin: opts.origin } : {}),
    });
    const c = new ChatClient(ws);
    c.cookie = opts.cookie;
    ws.on('upgrade', (res) => {
      const sc = res.headers['set-cookie']?.[0];
      if (sc) {
        c.setCookie = sc;
        c.cookie = sc.split(';')[0];
      }
    });
    ws.on('message', (data) => {
      c.frames.push(JSON.parse(String(data)) as ServerFrame);
      for (const w of c.waiters.splice(0)) w();
    });
    ws.on('close', (code, reason) => {
      c.closed = { code, reason: String(reason) };
      for (const w of c.waiters.splice(0)) w();
    });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    const hello = await c.waitFor((f) => f.type === 'hello');
    if (hello.type === 'hello') c.visitorId = hello.visitorId;
    await c.waitFor((f) => f.type === 'history');
    return c;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  mark(): number {
    return this.frames.length;
  }

  /** The first frame from index `since` on matching `pred`. */
  async waitFor<F extends ServerFrame>(pred: (f: ServerFrame) => f is F, since?: number, timeoutMs?: number): Promise<F>;
  async waitFor(pred: (f: ServerFrame) => boolean, since?: number, timeoutMs?: number): Promise<ServerFrame>;
  async waitFor(pred: (f: ServerFrame) => boolean, since = 0, timeoutMs = 8000): Promise<ServerFrame> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.frames.slice(since).find(pred);
      if (hit) return hit;
      if (this.closed) throw new Error(`socket closed (${this.closed.code} ${this.closed.reason}) while waiting`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a frame; got ${JSON.stringify(this.frames.slice(since))}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, Math.min(left, 100));
      });
    }
  }

  messages(since = 0): Extract<ServerFrame, { type: 'message' }>[] {
    return this.frames.slice(since).filter((f): f is Extract<ServerFrame, { type: 'message' }> => f.type === 'message');
  }

  close(): void {
    this.ws.close();
  }
}
