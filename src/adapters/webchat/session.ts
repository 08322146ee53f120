import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { ensurePrivateDir } from '../../core/private-files.js';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { stringifySetCookie } from 'cookie';
import type { RequestInfo } from '../../core/adapter.js';

/** Visitor identity: a random id signed with HMAC-SHA256, carried in a cookie or (embeds on http) a token. */

export const COOKIE_NAME = 'sb_wc';
const ONE_YEAR_S = 365 * 24 * 3600;
/** A visitor id: 16 random bytes in base64url (see `newVisitorId`). */
export const VISITOR_ID_RE = /^[A-Za-z0-9_-]{22}$/;
const TOKEN_RE = new RegExp(`^(${VISITOR_ID_RE.source.slice(1, -1)})\\.([A-Za-z0-9_-]{43})$`);

export class VisitorSigner {
  private readonly key: Buffer;

  constructor(secret: string) {
    this.key = Buffer.from(secret, 'utf8');
  }

  newVisitorId(): string {
    return randomBytes(16).toString('base64url');
  }

  /** `<visitorId>.<signature>` */
  sign(visitorId: string): string {
    return `${visitorId}.${this.mac(visitorId).toString('base64url')}`;
  }

  /** The visitor id of a well-formed, correctly signed token; undefined otherwise (constant-time compare). */
  verify(token: string | undefined | null): string | undefined {
    if (!token) return undefined;
    const m = TOKEN_RE.exec(token);
    if (!m?.[1] || !m[2]) return undefined;
    const given = Buffer.from(m[2], 'base64url');
    const expected = this.mac(m[1]);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    return m[1];
  }

  private mac(visitorId: string): Buffer {
    return createHmac('sha256', this.key).update(`webchat-visitor:v1:${visitorId}`).digest();
  }
}

/** The configured secret, else the one persisted in `<dataDir>/webchat-secret` (created on first use). */
export async function loadSecret(configured: string | undefined, dataDir: string): Promise<string> {
  if (configured) return configured;
  const file = join(dataDir, 'webchat-secret');
  try {
    const s = (await readFile(file, 'utf8')).trim();
    if (s.length >= 16) return s;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  ensurePrivateDir(dataDir);
  const fresh = randomBytes(32).toString('base64url');
  try {
    // `wx`: when two processes race on first start, one wins and both read its secret.
    await writeFile(file, `${fresh}\n`, { mode: 0o600, flag: 'wx' });
    return fresh;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return (await readFile(file, 'utf8')).trim();
  }
}

/**
 * `Set-Cookie` value: Path=/, Max-Age one year, HttpOnly always; `SameSite=None; Secure` on https
 * (cross-site embeds), `SameSite=Lax` on http. The token is signed by `VisitorSigner` (not by the
 * server's cookie plugin, which only parses: the adapter reads `RequestInfo.cookies`).
 */
export function visitorCookie(token: string, secure: boolean): string {
  return stringifySetCookie({
    name: COOKIE_NAME,
    value: token,
    path: '/',
    maxAge: ONE_YEAR_S,
    httpOnly: true,
    ...(secure ? { sameSite: 'none', secure: true } : { sameSite: 'lax' }),
  });
}

/** https: the client reached the hub over TLS (directly, or as a trusted proxy says), or the hub's public URL is https. */
export function isHttps(info: RequestInfo, publicUrl: string | undefined): boolean {
  return info.https || (publicUrl?.startsWith('https:') ?? false);
}

/** True when the browser origin is the hub itself, is listed, or `*` is listed. No Origin (not a browser): true. */
export function originAllowed(req: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  if (isSameOrigin(req)) return true;
  return allowed.includes('*') || allowed.includes(origin.replace(/\/$/, ''));
}

export function isSameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/** First language of an Accept-Language header (`zh-CN,zh;q=0.9` -> `zh-CN`). */
export function acceptLanguage(req: IncomingMessage): string | undefined {
  const first = req.headers['accept-language']?.split(',')[0]?.split(';')[0]?.trim();
  return first && /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(first) ? first : undefined;
}

/** A browser-supplied locale hint, if it looks like a BCP-47 tag. */
export function cleanLocale(hint: string | null | undefined): string | undefined {
  return hint && hint.length <= 35 && /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/.test(hint) ? hint : undefined;
}
