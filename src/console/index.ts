/**
 * The web console at `/console`: sign-in with an API token (agent or admin), the agent inbox (a
 * second desk beside Slack, over the same agent actions), live over SSE. Routes it owns:
 * `/console`, `/console/login`, `/console/logout`, `/console/api/*`, `/console/events`,
 * `/console/assets/*`, `/console/settings` (admins). Other console pages (analytics, queues) take `ConsoleGuard` from here.
 * docs/console.md has the whole picture.
 */
import csrfProtection from '@fastify/csrf-protection';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Bus } from '../core/adapter.js';
import type { DeskContext } from '../core/desk.js';
import type { ApiRole, TokenAuth } from '../api/tokens.js';
import { CSP, registerAssets, shell } from './assets.js';
import { pageLang, registerAuth } from './auth.js';
import { registerApi } from './api.js';
import { consoleCaller, createConsoleGuard, sessionOf, type ConsoleGuard, type CsrfCheck } from './guard.js';
import { LiveStreams } from './live.js';
import { registerSettings, type SettingsDeps } from './settings.js';
import type { ConsoleKeys } from './session.js';

export { createConsoleGuard, type ConsoleGuard } from './guard.js';
export { loadConsoleKeys } from './session.js';
export { subscribeLive } from './live.js';

export interface ConsoleDeps {
  auth: TokenAuth;
  /** The roles of a configured token by name (undefined when hub.yaml has no such token). */
  roles(name: string): readonly ApiRole[] | undefined;
  keys: ConsoleKeys;
  desk: DeskContext;
  bus: Bus;
  channels(): string[];
  now(): number;
  /** For the admins' settings read-out (/console/settings): hub.yaml as loaded and what runs now. */
  settings?: Omit<SettingsDeps, 'guard'>;
}

export interface Console {
  guard: ConsoleGuard;
  /** Registers the console's routes (a root plugin of the hub's HTTP surface). */
  plugin(app: FastifyInstance): Promise<void>;
  /** Ends the open live streams (the hub is stopping). */
  close(): void;
}

export function createConsole(d: ConsoleDeps): Console {
  let csrf: CsrfCheck | undefined;
  const guard = createConsoleGuard({ auth: d.auth, keys: d.keys, csrf: () => csrf, roles: d.roles, now: d.now });
  const streams = new LiveStreams();
  const page = (reply: FastifyReply) =>
    reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', CSP)
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'same-origin');

  const plugin = async (app: FastifyInstance): Promise<void> => {
    await app.register(csrfProtection, {
      cookieKey: 'sb_console_csrf',
      cookieOpts: { path: '/', sameSite: 'strict', httpOnly: true },
      getToken: (req) => {
        const h = req.headers['x-csrf-token'];
        return typeof h === 'string' ? h : undefined;
      },
      getUserInfo: (req) => sessionOf(d.keys, req, d.now())?.sid ?? 'login',
      csrfOpts: { hmacKey: d.keys.csrfKey },
    });
    csrf = app.csrfProtection.bind(app);
    registerAssets(app);
    registerAuth(app, { auth: d.auth, keys: d.keys, guard, now: d.now, page });
    registerApi(app, { guard, desk: d.desk, channels: d.channels });
    if (d.settings) registerSettings(app, { guard, ...d.settings }, page);

    app.get('/console', async (request, reply) => {
      if (!(await guard(request, reply, 'agent'))) return reply;
      const c = consoleCaller(request);
      const session = c?.kind === 'session' ? c.session : undefined;
      const csrfToken = session ? reply.generateCsrf({ userInfo: session.sid, secure: request.protocol === 'https' }) : '';
      const me = session ? { name: session.name, displayName: session.displayName, roles: session.roles, expiresAt: session.exp } : null;
      return page(reply).send(shell({ view: 'inbox', csrf: csrfToken, lang: pageLang(request), me }));
    });
    app.get('/console/events', async (request, reply) => {
      if (!(await guard(request, reply, 'agent'))) return reply;
      const c = consoleCaller(request);
      await streams.serve({ bus: d.bus, now: d.now }, request, reply, c?.kind === 'session' ? c.session.exp : undefined);
      return reply;
    });
  };
  return { guard, plugin, close: () => streams.close() };
}
