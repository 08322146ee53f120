import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import type { AttachmentContent, AttachmentFetcher } from '../core/adapter.js';
import { HubError, errorMessage } from '../core/errors.js';
import { safeEqual } from './router.js';

/** Where the hub serves attachments to agents: `/files/<channel>/<handle>?exp=<unix s>&sig=<hex>`. */
export const FILES_PATH = '/files/';

/** How long the adapter may take to start delivering a file before the agent gets 504. */
const FETCH_TIMEOUT_MS = 30_000;

/** Types a browser may show in the page; anything else is downloaded as bytes (no HTML, SVG or script from customers on our origin). */
const INLINE_TYPES = new Set([
  'image/jpeg', 'image/png', 'image/gif', 'image/webp',
  'audio/ogg', 'audio/mpeg', 'audio/mp4', 'audio/aac', 'audio/wav', 'audio/webm',
  'video/mp4', 'video/webm', 'video/ogg', 'video/quicktime',
]);

/** HMAC-SHA256 (hex) of one link: channel, handle and expiry (unix seconds), unambiguously joined. */
export function fileSignature(key: Buffer, channel: string, handle: string, exp: number): string {
  return createHmac('sha256', key).update(JSON.stringify(['switchboard-file/v1', channel, handle, exp])).digest('hex');
}

/** The signed path (with query) of a link to `handle` of `channel`, valid until `exp` (unix seconds). */
export function signedFilePath(key: Buffer, channel: string, handle: string, exp: number): string {
  const sig = fileSignature(key, channel, handle, exp);
  return `${FILES_PATH}${encodeURIComponent(channel)}/${encodeURIComponent(handle)}?exp=${exp}&sig=${sig}`;
}

export interface AttachmentLinksOptions {
  /** The HMAC key (loaded once, shared by every process of the hub). */
  key: () => Promise<Buffer>;
  log: Logger;
  now?: () => number;
  fetchTimeoutMs?: number;
}

/**
 * Short-lived signed links to customers' attachments, served by the hub: the desk hands agents
 * `/files/<channel>/<handle>?exp=&sig=`; a request is checked (unknown channel 404; missing, forged
 * or expired signature 403, compared in constant time) and the file is streamed from the channel's
 * fetcher, so no platform secret (a Telegram bot token in a getFile URL) ever reaches an agent.
 */
export class AttachmentLinks {
  private readonly fetchers = new Map<string, AttachmentFetcher>();
  private readonly now: () => number;

  constructor(private readonly o: AttachmentLinksOptions) {
    this.now = o.now ?? Date.now;
  }

  serve(channel: string, fetch: AttachmentFetcher): void {
    this.fetchers.set(channel, fetch);
  }

  serves(channel: string): boolean {
    return this.fetchers.has(channel);
  }

  /** The signed path of a link to `handle` valid for `ttlMs` from now. */
  async path(channel: string, handle: string, ttlMs: number): Promise<string> {
    if (!this.serves(channel)) throw new HubError('INPUT_INVALID', `channel "${channel}" serves no attachments`);
    const exp = Math.ceil((this.now() + ttlMs) / 1000);
    return signedFilePath(await this.o.key(), channel, handle, exp);
  }

  /** `GET /files/*`. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://hub');
    const rest = url.pathname.slice(FILES_PATH.length);
    const slash = rest.indexOf('/');
    if (!url.pathname.startsWith(FILES_PATH) || slash <= 0 || slash === rest.length - 1) return reply(res, 404, 'not found: a file link is /files/<channel>/<file>?exp=…&sig=…');
    let channel: string;
    let handle: string;
    try {
      channel = decodeURIComponent(rest.slice(0, slash));
      handle = decodeURIComponent(rest.slice(slash + 1));
    } catch {
      return reply(res, 400, 'malformed file link (bad percent-encoding)');
    }
    const fetch = this.fetchers.get(channel);
    if (!fetch) return reply(res, 404, 'not found: no channel of that name serves files on this hub');
    const exp = url.searchParams.get('exp') ?? '';
    const sig = url.searchParams.get('sig') ?? '';
    if (!/^\d{1,12}$/.test(exp) || !/^[0-9a-f]{64}$/.test(sig)) return reply(res, 403, 'this file link is not valid: its exp or sig is missing or malformed');
    if (!safeEqual(sig, fileSignature(await this.o.key(), channel, handle, Number(exp)))) {
      this.o.log.warn({ channel }, 'files: a file link with a wrong signature was refused');
      return reply(res, 403, 'this file link is not valid: the signature does not match (was it changed?)');
    }
    if (Number(exp) * 1000 < this.now()) {
      return reply(res, 403, `this file link expired at ${new Date(Number(exp) * 1000).toISOString()}: links to attachments are short-lived; ask the customer to send the file again if you still need it`);
    }
    await this.stream(channel, handle, fetch, req, res);
  }

  private async stream(channel: string, handle: string, fetch: AttachmentFetcher, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ac = new AbortController();
    const abort = () => ac.abort();
    res.on('close', abort);
    const timer = setTimeout(abort, this.o.fetchTimeoutMs ?? FETCH_TIMEOUT_MS);
    let content: AttachmentContent;
    try {
      content = await fetch(handle, ac.signal);
    } catch (err) {
      const status = fetchFailure(err, ac.signal.aborted);
      this.o.log.warn({ channel, status }, `files: fetching an attachment failed: ${errorMessage(err)}`);
      if (!res.headersSent && !res.destroyed) reply(res, status, `${channel}: ${status === 504 ? 'the platform did not deliver the file in time' : errorMessage(err)}`);
      return;
    } finally {
      clearTimeout(timer);
    }
    const type = (content.mimeType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    const inline = INLINE_TYPES.has(type);
    res.writeHead(200, {
      'content-type': inline ? type : 'application/octet-stream',
      'content-disposition': disposition(inline ? 'inline' : 'attachment', content.name),
      ...(content.size !== undefined ? { 'content-length': String(content.size) } : {}),
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; sandbox",
      'cache-control': 'private, no-store',
      'referrer-policy': 'no-referrer',
      'cross-origin-resource-policy': 'same-origin',
    });
    if (req.method === 'HEAD') {
      content.body.destroy();
      res.end();
      return;
    }
    try {
      await pipeline(content.body, res);
    } catch (err) {
      if (!ac.signal.aborted) this.o.log.warn({ channel }, `files: streaming an attachment broke off: ${errorMessage(err)}`);
    } finally {
      res.off('close', abort);
    }
  }
}

function fetchFailure(err: unknown, timedOut: boolean): number {
  if (err instanceof HubError) {
    if (err.code === 'NOT_FOUND') return 404;
    if (err.code === 'NETWORK' && timedOut) return 504;
  }
  return timedOut ? 504 : 502;
}

/** `Content-Disposition` with an ASCII fallback name and the UTF-8 one (RFC 6266 / 5987). */
function disposition(kind: 'inline' | 'attachment', name: string | undefined): string {
  const clean = (name ?? '').replace(/[\u0000-\u001f\u007f/\\]/g, '').trim().slice(0, 200);
  if (!clean) return kind;
  const ascii = clean.replace(/[^\x20-\x7e]/g, '_').replace(/["%;]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(clean)}`;
}

function reply(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    'x-content-type-options': 'nosniff',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
