/**
 * The one check in front of every console route (the inbox here, the analytics pages and
 * `/api/analytics/*`): a signed session cookie (`session.ts`) or an `Authorization: Bearer` API
 * token, with the role the route needs (`admin` grants `agent`). A state change (any method but
 * GET/HEAD/OPTIONS) made with the cookie must carry the session's CSRF token (header
 * `x-csrf-token`, @fastify/csrf-protection); a Bearer call needs none (no browser sends it by itself).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { hasRole, type ApiCaller, type ApiRole, type TokenAuth } from '../api/tokens.js';
import { openSession, SESSION_COOKIE, type ConsoleKeys, type ConsoleSession } from './session.js';

/** true = allowed; false = it already answered 401/403, or redirected an HTML page request to /console/login. */
export type ConsoleGuard = (request: FastifyRequest, reply: FastifyReply, role: 'agent' | 'admin') => Promise<boolean>;

/** Who a guarded request is: a signed-in person (session) or an API token. */
export type ConsoleCaller = { kind: 'session'; session: ConsoleSession } | { kind: 'token'; token: ApiCaller };

/** @fastify/csrf-protection's check, as registered in the console's scope: replies 403 itself on failure. */
export type CsrfCheck = (request: FastifyRequest, reply: FastifyReply, next: () => void) => void;

export const LOGIN_PATH = '/console/login';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

const callers = new WeakMap<FastifyRequest, ConsoleCaller>();

/** The caller a guard let through (undefined on a request no guard passed). */
export function consoleCaller(request: FastifyRequest): ConsoleCaller | undefined {
  return callers.get(request);
}

/** The session of a request, if its cookie holds a valid one (no role check). */
export function sessionOf(keys: ConsoleKeys, request: FastifyRequest, now: number): ConsoleSession | undefined {
  return openSession(keys, request.cookies[SESSION_COOKIE], now);
}

function wantsHtml(request: FastifyRequest): boolean {
  return request.method === 'GET' && (request.headers.accept ?? '').includes('text/html');
}

export interface GuardDeps {
  auth: TokenAuth;
  keys: ConsoleKeys;
  /** The CSRF check, once the console's routes are registered (before that, state changes by cookie are refused). */
  csrf(): CsrfCheck | undefined;
  /** The roles hub.yaml gives the token named `name` now (undefined: no such token any more). */
  roles(name: string): readonly ApiRole[] | undefined;
  now(): number;
}

export function createConsoleGuard(d: GuardDeps): ConsoleGuard {
  return async (request, reply, role) => {
    const authorization = request.headers.authorization;
    if (authorization !== undefined) {
      const result = d.auth.authorize(authorization, role);
      if (result.ok) {
        callers.set(request, { kind: 'token', token: result.token });
        return true;
      }
      void reply.code(result.status).headers(result.headers).send({ error: result.error });
      return false;
    }
    const signed = sessionOf(d.keys, request, d.now());
    // A token removed from hub.yaml ends its sessions; changed roles apply at once.
    const current = signed ? d.roles(signed.name) : undefined;
    const session = signed && current ? { ...signed, roles: signed.roles.filter((r) => current.includes(r)) } : undefined;
    if (!session) {
      if (wantsHtml(request)) {
        void reply.redirect(`${LOGIN_PATH}?next=${encodeURIComponent(request.url)}`, 303);
      } else {
        void reply.code(401).send({ error: `not signed in (or the session expired): sign in at ${LOGIN_PATH}` });
      }
      return false;
    }
    if (!hasRole({ name: session.name, roles: session.roles }, role)) {
      void reply.code(403).send({ error: `the token "${session.name}" lacks the role ${role} (it has ${session.roles.join(', ')})` });
      return false;
    }
    if (!SAFE.has(request.method)) {
      const check = d.csrf();
      if (!check) {
        void reply.code(403).send({ error: 'CSRF protection is not ready' });
        return false;
      }
      // The check is synchronous: it calls next, or it has answered 403 (then next is never called).
      let passed = false;
      check(request, reply, () => {
        passed = true;
      });
      if (!passed) return false;
    }
    callers.set(request, { kind: 'session', session });
    return true;
  };
}
