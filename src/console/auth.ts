/**
 * Sign-in and sign-out. `POST /console/login` takes an API token with the `agent` or `admin` role
 * (JSON `{token, name?}`; `name` is the display name customers see on replies, default the token's
 * name) with the login page's CSRF token, and sets the session cookie; a wrong token is answered 401
 * with a clear message, and wrong tokens are limited per client IP: after 10 in 10 minutes every
 * attempt is answered 429 until the window ends (counted in Redis by the hub's rate limiter,
 * @fastify/rate-limit, so every gateway shares the count; right tokens are not counted, so a team
 * behind one office address can all sign in). `POST /console/logout` clears the cookie.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TokenAuth } from '../api/tokens.js';
import { hasRole } from '../api/tokens.js';
import { clientKey } from '../http/rate-limit.js';
import { shell } from './assets.js';
import { LOGIN_PATH, sessionOf, type ConsoleGuard } from './guard.js';
import { newSession, sealSession, SESSION_COOKIE, SESSION_TTL_MS, type ConsoleKeys } from './session.js';

export const LOGIN_LIMIT = { max: 10, windowMs: 10 * 60_000 };

export interface AuthDeps {
  auth: TokenAuth;
  keys: ConsoleKeys;
  guard: ConsoleGuard;
  now(): number;
  /** The shell's headers (CSP...). */
  page(reply: FastifyReply): FastifyReply;
}

/** zh for a browser that prefers Chinese, else en. */
export function pageLang(request: FastifyRequest): 'zh' | 'en' {
  const first = (request.headers['accept-language'] ?? '').split(',')[0]?.trim().toLowerCase() ?? '';
  return first.startsWith('zh') ? 'zh' : 'en';
}

/** Same-site path to go to after signing in (never another origin). */
function safeNext(v: unknown): string {
  return typeof v === 'string' && /^\/console(\/[^\s\\]*)?(\?[^\s\\]*)?$/.test(v) && !v.startsWith('//') ? v : '/console';
}

const secure = (request: FastifyRequest) => request.protocol === 'https';

export function registerAuth(app: FastifyInstance, d: AuthDeps): void {
  app.get<{ Querystring: { next?: string } }>(LOGIN_PATH, async (request, reply) => {
    if (sessionOf(d.keys, request, d.now())) return reply.redirect(safeNext(request.query.next), 303);
    const csrf = reply.generateCsrf({ userInfo: 'login', secure: secure(request) });
    return d.page(reply).send(shell({ view: 'login', csrf, lang: pageLang(request), next: safeNext(request.query.next) }));
  });

  const wrongTokens = app.createRateLimit({ max: LOGIN_LIMIT.max, timeWindow: LOGIN_LIMIT.windowMs, keyGenerator: (r) => `console-login:${clientKey(r)}` });
  const tooMany = (reply: FastifyReply, seconds: number) =>
    reply
      .code(429)
      .header('retry-after', String(seconds))
      .send({ error: `too many wrong tokens from this address: try again in ${Math.ceil(seconds / 60)} min`, code: 'RATE_LIMITED' });
  app.post<{ Body: { token: string; name?: string } }>(
    LOGIN_PATH,
    {
      onRequest: app.csrfProtection,
      schema: {
        body: {
          type: 'object',
          required: ['token'],
          additionalProperties: false,
          properties: { token: { type: 'string', maxLength: 1024 }, name: { type: 'string', maxLength: 80 } },
        },
      },
    },
    async (request, reply) => {
      const seen = await wrongTokens(request, { increment: false });
      if (!seen.isAllowed && seen.remaining <= 0 && seen.ttl > 0) return tooMany(reply, seen.ttlInSeconds);
      const caller = d.auth.authenticate(`Bearer ${request.body.token.trim()}`);
      if (!caller) {
        request.log.warn({ ip: request.ip }, 'console sign-in refused: wrong token');
        const counted = await wrongTokens(request);
        if (!counted.isAllowed && counted.isExceeded) return tooMany(reply, counted.ttlInSeconds);
        return reply.code(401).send({ error: 'wrong token: paste an API token with the agent or admin role (npx switchboard token create NAME --role agent)', code: 'WRONG_TOKEN' });
      }
      if (!hasRole(caller, 'agent')) {
        return reply.code(403).send({ error: `the token "${caller.name}" has the role ${caller.roles.join(', ')}; the console needs agent or admin`, code: 'WRONG_ROLE' });
      }
      const displayName = request.body.name?.trim() || caller.name;
      const session = newSession(caller.name, caller.roles, displayName, d.now());
      request.log.info({ tokenName: caller.name }, 'console sign-in');
      void reply.setCookie(SESSION_COOKIE, sealSession(d.keys, session), {
        path: '/',
        httpOnly: true,
        sameSite: 'strict',
        secure: secure(request),
        maxAge: Math.floor(SESSION_TTL_MS / 1000),
      });
      return reply.send({ ok: true, name: caller.name, displayName, roles: caller.roles, expiresAt: session.exp });
    },
  );

  app.post('/console/logout', async (request, reply) => {
    if (!(await d.guard(request, reply, 'agent'))) return reply;
    void reply.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: secure(request) });
    return reply.send({ ok: true });
  });
}
