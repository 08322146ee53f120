/**
 * The console's JSON endpoints under `/console/api` (role agent; state changes need the CSRF token
 * with a session cookie, see guard.ts). Every action goes through the core's AgentActions, like the
 * Slack desk's buttons: the two desks change the same conversations through the same compare-and-set
 * and events, so what one does shows in the other.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Agent } from '../core/conversation/agent-actions.js';
import type { DeskContext } from '../core/desk.js';
import { HubError } from '../core/errors.js';
import { answerError } from '../api/routes.js';
import { consoleCaller, type ConsoleGuard } from './guard.js';
import { conversationView, listInbox, type InboxStatus } from './inbox.js';

export const API = '/console/api';

export interface ApiDeps {
  guard: ConsoleGuard;
  desk: DeskContext;
  /** Channels this hub has (the inbox's channel filter). */
  channels(): string[];
}

/** The agent behind a guarded request: a session's display name, or an API token's name. */
export function agentOf(request: FastifyRequest): Agent {
  const c = consoleCaller(request);
  if (!c) throw new HubError('INTERNAL', 'console route without its guard');
  return c.kind === 'session' ? { id: `console:${c.session.displayName}`, name: c.session.displayName } : { id: `console:${c.token.name}`, name: c.token.name };
}

const KEY = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } as const;
const textBody = {
  body: {
    type: 'object',
    required: ['text', 'key'],
    additionalProperties: false,
    properties: { text: { type: 'string', minLength: 1, maxLength: 4000 }, key: KEY },
  },
} as const;
const idParams = { params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } } } as const;

type Action = (id: string, agent: Agent, body: unknown) => Promise<unknown>;

export function registerApi(app: FastifyInstance, d: ApiDeps): void {
  const guarded = (role: 'agent' | 'admin') => async (request: FastifyRequest, reply: FastifyReply) => {
    if (!(await d.guard(request, reply, role))) return reply;
    return undefined;
  };
  const agent = guarded('agent');

  // With a session, also its CSRF token (for pages of other console modules that change state).
  app.get(`${API}/me`, { onRequest: agent }, async (request, reply) => {
    const c = consoleCaller(request);
    if (c?.kind !== 'session') return { ...agentOf(request), roles: c?.token.roles ?? [], expiresAt: null };
    return { ...agentOf(request), roles: c.session.roles, expiresAt: c.session.exp, csrfToken: reply.generateCsrf({ userInfo: c.session.sid, secure: request.protocol === 'https' }) };
  });

  app.get<{ Querystring: { status?: InboxStatus; channel?: string; assignee?: string; q?: string } }>(
    `${API}/inbox`,
    {
      onRequest: agent,
      schema: {
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            status: { type: 'string', enum: ['open', 'waiting_agent', 'agent', 'resolved'] },
            channel: { type: 'string', maxLength: 32 },
            assignee: { type: 'string', maxLength: 120 },
            q: { type: 'string', maxLength: 200 },
          },
        },
      },
    },
    async (request) => {
      const { status = 'open', channel, assignee, q } = request.query;
      const items = await listInbox(d.desk, { status, channel, assignee, q }, agentOf(request).id);
      return { items, channels: d.channels() };
    },
  );

  app.get<{ Params: { id: string }; Querystring: { lang?: string } }>(`${API}/conversations/:id`, { onRequest: agent, schema: idParams }, async (request, reply) => {
    const view = await conversationView(d.desk, request.params.id, request.query.lang === 'zh' ? 'zh' : 'en', `${request.protocol}://${request.host}`);
    if (!view) return reply.code(404).send({ error: `conversation ${request.params.id} not found`, code: 'NOT_FOUND' });
    return view;
  });

  const action = (name: string, run: Action, schema: object = idParams) =>
    app.post<{ Params: { id: string } }>(`${API}/conversations/:id/${name}`, { onRequest: agent, schema }, async (request, reply) => {
      try {
        const result = await run(request.params.id, agentOf(request), request.body);
        return { ok: true, ...(result && typeof result === 'object' ? result : {}) };
      } catch (err) {
        return answerError(reply, err);
      }
    });
  const body = (b: unknown) => b as { text: string; key: string };
  const a = d.desk.actions;

  action('claim', async (id, who) => ({ status: (await a.claim(id, who)).status }));
  action('reply', async (id, who, b) => a.reply(id, who, body(b).text, `console:${body(b).key}`), { ...idParams, ...textBody });
  action('note', async (id, who, b) => a.note(id, who, body(b).text, `console:${body(b).key}`), { ...idParams, ...textBody });
  action('resolve', async (id, who) => ({ status: (await a.resolve(id, who)).status }));
  action('return', async (id, who) => ({ status: (await a.returnToBot(id, who)).status }));
  action(
    'propose',
    async (id, who, b) => {
      const p = b as { question: string; answer: string; locale: string; key: string };
      const res = await d.desk.proposeAnswer({ key: `console:${p.key}`, question: p.question, answer: p.answer, locale: p.locale, conversationId: id, proposedBy: who.id, proposedByName: who.name });
      return { pendingId: res.answer.id, created: res.created };
    },
    {
      ...idParams,
      body: {
        type: 'object',
        required: ['question', 'answer', 'locale', 'key'],
        additionalProperties: false,
        properties: {
          question: { type: 'string', minLength: 1, maxLength: 1000 },
          answer: { type: 'string', minLength: 1, maxLength: 4000 },
          locale: { type: 'string', enum: ['zh', 'en'] },
          key: KEY,
        },
      },
    },
  );
}
