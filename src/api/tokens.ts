/**
 * Bearer tokens of the hub's API and of `/metrics`. hub.yaml keeps each token's SHA-256 under
 * `api.tokens` with a name and roles, never the token (`npx switchboard token create` makes one).
 *
 * A presented token is hashed and its digest compared with every configured digest in constant
 * time (`crypto.timingSafeEqual` on equal-length digests, every entry compared, no early exit), so
 * neither the time nor the path taken says which token, or how much of one, matched.
 *
 * Roles: `admin` may do everything, `agent` reads customers and conversations, `events` sends
 * messages (docs/api.md, "Tokens and roles"). Logs name the token, never show it: `authLogFields`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { HubError } from '../core/errors.js';
import type { ApiRole, ApiTokenConfig } from '../config/schema.js';

export type { ApiRole, ApiTokenConfig };

/** For each role a route requires, the token roles that grant it. */
export const ROLE_GRANTS: Readonly<Record<ApiRole, readonly ApiRole[]>> = {
  admin: ['admin'],
  agent: ['admin', 'agent'],
  events: ['admin', 'events'],
};

/** Prefix of the tokens `switchboard token create` makes (so a leaked one is recognisable). */
export const TOKEN_PREFIX = 'sb_';

/** Who called: a configured token's name and roles (never the token). */
export interface ApiCaller {
  readonly name: string;
  readonly roles: readonly ApiRole[];
}

export type AuthResult =
  | { ok: true; token: ApiCaller }
  | { ok: false; status: 401; error: string; headers: Record<string, string> }
  | { ok: false; status: 403; error: string; headers: Record<string, string>; token: ApiCaller };

export interface TokenAuth {
  /** The caller an `Authorization: Bearer <token>` header names, or undefined (missing, malformed, unknown). */
  authenticate(authorization: string | undefined): ApiCaller | undefined;
  /** 401 without a valid token (with `WWW-Authenticate: Bearer`), 403 when the token lacks `role`. */
  authorize(authorization: string | undefined, role: ApiRole): AuthResult;
}

/** Lowercase hex SHA-256 of a token's UTF-8 bytes: what `api.tokens[].sha256` holds. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new token: `sb_` and 32 random bytes in base64url. */
export function generateToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** Whether a caller's roles grant what a route requires (`admin` grants everything). */
export function hasRole(caller: ApiCaller, role: ApiRole): boolean {
  return caller.roles.some((r) => ROLE_GRANTS[role].includes(r));
}

const REALM = 'Bearer realm="switchboard"';
/** RFC 6750: "Bearer" (any case), spaces, a b64token. */
const BEARER = /^bearer[ \t]+([A-Za-z0-9\-._~+/]+=*)[ \t]*$/i;
const SCHEME = /^\s*(\S+)/;
/** Longer than any token we make by far; nothing longer is hashed. */
const MAX_HEADER = 1024;

type Presented = { kind: 'missing' | 'scheme' | 'malformed' } | { kind: 'token'; token: string };

function presented(authorization: string | undefined): Presented {
  if (authorization === undefined || authorization.trim() === '') return { kind: 'missing' };
  if (authorization.length > MAX_HEADER) return { kind: 'malformed' };
  const m = BEARER.exec(authorization);
  if (m?.[1]) return { kind: 'token', token: m[1] };
  return SCHEME.exec(authorization)?.[1]?.toLowerCase() === 'bearer' ? { kind: 'malformed' } : { kind: 'scheme' };
}

interface Entry {
  caller: ApiCaller;
  digest: Buffer;
}

export function createTokenAuth(tokens: readonly ApiTokenConfig[]): TokenAuth {
  const entries: Entry[] = tokens.map((t, i) => {
    const digest = Buffer.from(t.sha256, 'hex');
    if (digest.length !== 32 || digest.toString('hex') !== t.sha256) {
      throw new HubError('CONFIG_INVALID', `api.tokens[${i}].sha256: must be 64 lowercase hex characters (the SHA-256 of the token)`, {
        context: { field: `api.tokens[${i}].sha256` },
      });
    }
    return { caller: Object.freeze({ name: t.name, roles: Object.freeze([...new Set(t.roles)]) }), digest };
  });
  const hint = entries.length === 0 ? ' (this hub has no api.tokens yet: an admin creates one with `npx switchboard token create NAME --role ROLE`)' : '';

  const match = (token: string): ApiCaller | undefined => {
    const digest = createHash('sha256').update(token, 'utf8').digest();
    let found: Entry | undefined;
    for (const e of entries) {
      // Every entry is compared; the first match is kept without leaving the loop.
      const same = timingSafeEqual(digest, e.digest);
      found = same && found === undefined ? e : found;
    }
    return found?.caller;
  };

  const authenticate = (authorization: string | undefined): ApiCaller | undefined => {
    const p = presented(authorization);
    return p.kind === 'token' ? match(p.token) : undefined;
  };

  const authorize = (authorization: string | undefined, role: ApiRole): AuthResult => {
    const p = presented(authorization);
    const caller = p.kind === 'token' ? match(p.token) : undefined;
    if (!caller) {
      const error =
        p.kind === 'missing'
          ? 'missing API token: send "Authorization: Bearer <token>"'
          : p.kind === 'scheme'
            ? 'the Authorization header must use the Bearer scheme: "Authorization: Bearer <token>"'
            : 'invalid API token';
      const www = p.kind === 'missing' || p.kind === 'scheme' ? REALM : `${REALM}, error="invalid_token"`;
      return { ok: false, status: 401, error: `${error}${hint}`, headers: { 'www-authenticate': www } };
    }
    if (!hasRole(caller, role)) {
      return {
        ok: false,
        status: 403,
        error: `the token "${caller.name}" lacks the role ${role} (it has ${caller.roles.join(', ')})`,
        headers: { 'www-authenticate': `${REALM}, error="insufficient_scope"` },
        token: caller,
      };
    }
    return { ok: true, token: caller };
  };

  return { authenticate, authorize };
}

/** Fields of an API call's log line: the token's name (never the token) and, when refused, the status. */
export interface AuthLogFields {
  tokenName: string | null;
  authStatus?: 401 | 403;
}

export function authLogFields(result: AuthResult): AuthLogFields {
  if (result.ok) return { tokenName: result.token.name };
  return { tokenName: result.status === 403 ? result.token.name : null, authStatus: result.status };
}
