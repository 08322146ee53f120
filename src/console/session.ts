/**
 * Console sessions: a signed, HttpOnly, SameSite=Strict cookie `sb_console` holding who signed in
 * (the API token's name and roles, never the token), the display name customers see on replies, a
 * random session id (CSRF tokens are bound to it) and an absolute expiry. Signed with HMAC-SHA256
 * (@fastify/cookie's Signer) under a key kept in the database (`channel_state`, channel `console`,
 * key `session-key`), made once by whichever process starts first: it survives restarts and every
 * hub process (any gateway) shares it. Deleting that row signs everyone out.
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { Signer } from '@fastify/cookie';
import type { ChannelStateRepo } from '../core/storage/channel-state.js';
import { HubError } from '../core/errors.js';
import type { ApiRole } from '../api/tokens.js';

export const SESSION_COOKIE = 'sb_console';
/** A session lives this long after sign-in (then the agent signs in again). */
export const SESSION_TTL_MS = 8 * 3600_000;

export interface ConsoleSession {
  /** Random id of this sign-in (CSRF tokens are bound to it). */
  sid: string;
  /** The API token's name. */
  name: string;
  roles: ApiRole[];
  /** Shown to customers on replies. */
  displayName: string;
  /** Epoch ms after which the session is refused. */
  exp: number;
}

/** The keys derived from the one stored secret: the cookie signer and the CSRF HMAC key. */
export interface ConsoleKeys {
  signer: Signer;
  csrfKey: Buffer;
}

const STATE_CHANNEL = 'console';
const STATE_KEY = 'session-key';

function derive(secret: Buffer, label: string): Buffer {
  return createHmac('sha256', secret).update(label).digest();
}

/** Reads the console's secret from the database, creating it once (compare-and-set: the first writer wins). */
export async function loadConsoleKeys(state: ChannelStateRepo): Promise<ConsoleKeys> {
  for (let i = 0; i < 3; i++) {
    const found = await state.get(STATE_CHANNEL, STATE_KEY);
    if (found && typeof found.value === 'string') {
      const secret = Buffer.from(found.value, 'base64');
      return { signer: new Signer(derive(secret, 'cookie')), csrfKey: derive(secret, 'csrf') };
    }
    await state.set(STATE_CHANNEL, STATE_KEY, randomBytes(32).toString('base64'), 0);
  }
  throw new HubError('INTERNAL', 'the console session key could not be stored');
}

/** A new session for a signed-in token. */
export function newSession(name: string, roles: readonly ApiRole[], displayName: string, now: number, ttlMs = SESSION_TTL_MS): ConsoleSession {
  return { sid: randomUUID(), name, roles: [...roles], displayName, exp: now + ttlMs };
}

/** The cookie value: the session as base64url JSON, signed. */
export function sealSession(keys: ConsoleKeys, s: ConsoleSession): string {
  return keys.signer.sign(Buffer.from(JSON.stringify(s)).toString('base64url'));
}

const ROLES = new Set<string>(['admin', 'agent', 'events']);

/** The session in a cookie value, or undefined when unsigned, tampered with, malformed or expired. */
export function openSession(keys: ConsoleKeys, value: string | undefined, now: number): ConsoleSession | undefined {
  if (!value || value.length > 4096) return undefined;
  const res = keys.signer.unsign(value);
  if (!res.valid || res.value === null) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(res.value, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const p = parsed as Record<string, unknown>;
  const roles = Array.isArray(p.roles) ? p.roles.filter((r): r is ApiRole => typeof r === 'string' && ROLES.has(r)) : [];
  if (typeof p.sid !== 'string' || typeof p.name !== 'string' || typeof p.displayName !== 'string' || typeof p.exp !== 'number') return undefined;
  if (p.exp <= now) return undefined;
  return { sid: p.sid, name: p.name, roles, displayName: p.displayName, exp: p.exp };
}
