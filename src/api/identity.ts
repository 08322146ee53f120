/**
 * Identity routes (docs/identity.md, docs/api.md "Identity"): merge and unlink, the preferred channel (role agent), the
 * audit log, a customer's export and erase (role admin), business-signed link tokens (role events).
 * Every change is audited with the token's name (and the agent named in the body, when given).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Storage } from '../core/storage/storage.js';
import { mergeCustomers, unlinkIdentity, type AuditActor } from '../core/customers/merge.js';
import { eraseCustomer, exportCustomer } from '../core/customers/privacy.js';
import { explicitChannel, setExplicitChannel } from '../core/customers/preferred-channel.js';
import { emailLinkTag, issueLinkTokens } from '../core/customers/link-tokens.js';
import type { AuditAction } from '../core/storage/identity-rows.js';
import { answerError, requires } from './guards.js';
import type { TokenAuth } from './tokens.js';
import { iso } from './views.js';
import * as s from './identity-schemas.js';

export interface IdentityApiDeps {
  auth: TokenAuth;
  storage: Storage;
  now(): number;
}

/** Link tokens work this long unless the call asks otherwise. */
const DEFAULT_TTL_MINUTES = 15;
const DEFAULT_LINK_CHANNELS = ['telegram', 'webchat'];
/** The web chat page's query parameter that carries a link token (src/adapters/webchat/public/widget.js). */
export const WEBCHAT_LINK_PARAM = 'sb_link';

function actorOf(request: FastifyRequest, agent: string | undefined): AuditActor {
  const token = request.apiCaller?.name ?? 'unknown';
  return agent ? { kind: 'agent', name: `${agent} (token ${token})` } : { kind: 'token', name: token };
}

/**
 * The email channel's reply address carrying a token as a plus-address tag
 * (`support+link-<tag>@example.com`; the tag is the token without case, `emailLinkTag`), from the
 * address the email adapter stored in its channel state; null until it is known.
 */
async function emailLinkAddress(storage: Storage, token: string): Promise<string | null> {
  const own = (await storage.channelState.get('email', 'address'))?.value;
  if (typeof own !== 'string' || !/^[^@\s]+@[^@\s]+$/.test(own)) return null;
  const at = own.lastIndexOf('@');
  return `${own.slice(0, at)}+link-${emailLinkTag(token)}${own.slice(at)}`;
}

/** The ready-made link of a token on a channel (null when the channel has none or it is not known yet). */
async function linkUrl(storage: Storage, request: FastifyRequest, channel: string, token: string): Promise<string | null> {
  if (channel === 'email') {
    const address = await emailLinkAddress(storage, token);
    return address === null ? null : `mailto:${address}`;
  }
  if (channel === 'telegram') {
    const bot = (await storage.channelState.get('telegram', 'bot_username'))?.value;
    return typeof bot === 'string' && /^\w{3,64}$/.test(bot) ? `https://t.me/${bot}?start=${token}` : null;
  }
  if (channel === 'webchat') return `${request.protocol}://${request.host}/?${WEBCHAT_LINK_PARAM}=${token}`;
  return null;
}

export async function mountIdentityApi(app: FastifyInstance, d: IdentityApiDeps): Promise<void> {
  app.post<{ Params: { id: string }; Body: s.MergeBody }>('/customers/:id/merge', { schema: s.mergeCustomers, onRequest: requires(d.auth, 'agent') }, async (request, reply) => {
    try {
      const b = request.body;
      const r = await mergeCustomers(d.storage, { survivorId: request.params.id, mergedId: b.from, actor: actorOf(request, b.agent), reason: b.reason });
      return { mergeId: r.mergeId, customerId: r.survivorId, mergedId: r.mergedId, moved: r.moved, auditId: r.auditId };
    } catch (err) {
      return answerError(reply, err);
    }
  });

  app.post<{ Params: { id: string }; Body: s.UnlinkBody }>('/customers/:id/unlink', { schema: s.unlinkIdentity, onRequest: requires(d.auth, 'agent') }, async (request, reply) => {
    try {
      const b = request.body;
      const identity = await d.storage.customers.findIdentity(b.channel, b.id);
      if (!identity || identity.customerId !== request.params.id) {
        return reply.code(404).send({ error: `customer ${request.params.id} has no identity ${b.channel}:${b.id}`, code: 'NOT_FOUND', field: 'body.id' });
      }
      return await unlinkIdentity(d.storage, { channel: b.channel, platformUserId: b.id, actor: actorOf(request, b.agent), reason: b.reason });
    } catch (err) {
      return answerError(reply, err);
    }
  });

  app.patch<{ Params: { id: string }; Body: s.PreferenceBody }>('/customers/:id', { schema: s.setPreferredChannel, onRequest: requires(d.auth, 'agent') }, async (request, reply) => {
    try {
      const actor = actorOf(request, request.body.agent);
      const c = await setExplicitChannel(d.storage, { customerId: request.params.id, channel: request.body.preferredChannel, by: `${actor.kind}:${actor.name}`, now: d.now() });
      return { customerId: c.id, preferredChannel: c.preferredChannel, explicit: explicitChannel(c) !== undefined };
    } catch (err) {
      return answerError(reply, err);
    }
  });

  app.get<{ Querystring: { customerId?: string; action?: AuditAction; before?: string; limit: number } }>(
    '/audit',
    { schema: s.getAudit, onRequest: requires(d.auth, 'admin') },
    async (request) => {
      const entries = await d.storage.audit.list(request.query);
      return { entries: entries.map((e) => ({ ...e, at: iso(e.at) })) };
    },
  );

  app.get<{ Params: { id: string } }>('/customers/:id/export', { schema: s.exportCustomer, onRequest: requires(d.auth, 'admin') }, async (request, reply) => {
    try {
      const out = await exportCustomer(d.storage, request.params.id, actorOf(request, undefined), d.now());
      return { ...out, exportedAt: iso(out.exportedAt), audit: out.audit.map((e) => ({ ...e, at: iso(e.at) })) };
    } catch (err) {
      return answerError(reply, err);
    }
  });

  app.delete<{ Params: { id: string }; Querystring: { reason?: string } }>('/customers/:id', { schema: s.eraseCustomer, onRequest: requires(d.auth, 'admin') }, async (request, reply) => {
    try {
      const tombstone = await eraseCustomer(d.storage, request.params.id, actorOf(request, undefined), request.query.reason ?? null);
      return { customerId: request.params.id, erased: true, tombstone: { ...tombstone, erasedAt: iso(tombstone.erasedAt) } };
    } catch (err) {
      return answerError(reply, err);
    }
  });

  app.post<{ Params: { externalId: string }; Body: s.LinkTokenBody | null }>(
    '/customers/:externalId/link-tokens',
    { schema: s.createLinkTokens, onRequest: requires(d.auth, 'events') },
    async (request, reply) => {
      try {
        const b = request.body ?? {};
        const channels = [...new Set(b.channels ?? DEFAULT_LINK_CHANNELS)];
        const issued = await issueLinkTokens(d.storage, {
          externalId: request.params.externalId,
          channels,
          ttlMs: (b.ttlMinutes ?? DEFAULT_TTL_MINUTES) * 60_000,
          actor: actorOf(request, undefined),
          now: d.now(),
        });
        const links: Record<string, { token: string; url: string | null; address?: string | null }> = {};
        for (const [channel, token] of Object.entries(issued.tokens)) {
          links[channel] = { token, url: await linkUrl(d.storage, request, channel, token), ...(channel === 'email' ? { address: await emailLinkAddress(d.storage, token) } : {}) };
        }
        return reply.code(201).send({ customerId: issued.customerId, expiresAt: iso(issued.expiresAt), links });
      } catch (err) {
        return answerError(reply, err);
      }
    },
  );
}
