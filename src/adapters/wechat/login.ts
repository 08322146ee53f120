import type { IncomingMessage, ServerResponse } from 'node:http';
import qrcodeTerminal from 'qrcode-terminal';
import type { Logger } from 'pino';
import type { Bus, HttpHandler } from '../../core/adapter.js';
import { errorMessage } from '../../core/errors.js';
import { safeEqual, sendJson } from '../../http/router.js';

export type LoginStatus = 'scan' | 'logged_in' | 'logged_out';

/** What `GET /api/channels/wechat/login` answers. */
export interface LoginSnapshot {
  status: LoginStatus;
  /** Image of the QR code to scan (status `scan`). */
  qrUrl?: string;
  /** Raw QR value, to render locally instead of through qrUrl. */
  qrcode?: string;
  user?: { id: string; name: string };
  /** Epoch ms of the last change. */
  since: number;
  /** false when no process holds the WeChat connection right now. */
  connected: boolean;
}

export const LOGIN_PATH = '/api/channels/wechat/login';
/** Bus topics: a process without the connection asks, the one holding it answers. */
export const LOGIN_QUERY_TOPIC = 'wechat:login:query';
export const LOGIN_STATE_TOPIC = 'wechat:login:state';

/** Same image service wechaty's own examples use. */
export function qrImageUrl(qrcode: string): string {
  return `https://wechaty.js.org/qrcode/${encodeURIComponent(qrcode)}`;
}

/** Prints the QR code as terminal art. */
export function printQr(qrcode: string, write: (s: string) => void): void {
  qrcodeTerminal.generate(qrcode, { small: true }, (art) => write(`\nScan with WeChat to log the bot in:\n${art}\n`));
}

/** Constant-time check of `Authorization: Bearer <token>` (hashes first, so lengths do not leak). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  return safeEqual(m?.[1]?.trim() ?? '', token) && m !== null;
}

export function parseSnapshot(payload: string): LoginSnapshot | undefined {
  try {
    const v: unknown = JSON.parse(payload);
    if (typeof v !== 'object' || v === null) return undefined;
    const s = v as Partial<LoginSnapshot>;
    if (s.status !== 'scan' && s.status !== 'logged_in' && s.status !== 'logged_out') return undefined;
    return v as LoginSnapshot;
  } catch {
    return undefined;
  }
}

export interface LoginRouteOptions {
  adminToken: string | undefined;
  /** The state here, when this process holds the connection. */
  local(): LoginSnapshot | undefined;
  /** Asks the process holding the connection (undefined when none answers). */
  remote(): Promise<LoginSnapshot | undefined>;
}

export function loginRoute(opts: LoginRouteOptions): HttpHandler {
  return async (req: IncomingMessage, res: ServerResponse) => {
    if (!opts.adminToken) {
      sendJson(res, 404, { error: 'disabled: set channels.wechat.adminToken to use this route' });
      return;
    }
    if (!bearerMatches(req.headers.authorization, opts.adminToken)) {
      res.setHeader('www-authenticate', 'Bearer');
      sendJson(res, 401, { error: 'unauthorized' });
      return;
    }
    const snap = opts.local() ?? (await opts.remote()) ?? { status: 'logged_out', since: Date.now(), connected: false };
    res.setHeader('cache-control', 'no-store');
    sendJson(res, 200, snap);
  };
}

/** Login state from the process holding the connection, asked over the bus (undefined: nobody answered). */
export async function askHolder(bus: Bus, timeoutMs: number, log: Logger): Promise<LoginSnapshot | undefined> {
  let resolveAnswer: (s: LoginSnapshot | undefined) => void = () => undefined;
  const answer = new Promise<LoginSnapshot | undefined>((r) => (resolveAnswer = r));
  const timer = setTimeout(() => resolveAnswer(undefined), timeoutMs);
  let unsub: (() => Promise<void>) | undefined;
  try {
    unsub = await bus.subscribe(LOGIN_STATE_TOPIC, (payload) => {
      const s = parseSnapshot(payload);
      if (s?.connected) resolveAnswer(s);
    });
    await bus.publish(LOGIN_QUERY_TOPIC, '?');
    return await answer;
  } catch (err) {
    log.debug(`wechat: asking for the login state: ${errorMessage(err)}`);
    return undefined;
  } finally {
    clearTimeout(timer);
    await unsub?.().catch(() => undefined);
  }
}
