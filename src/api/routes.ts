/**
 * The hub's public API under `/api` (docs/api.md): proactive messages (`events`), customers and
 * conversations (`agent`), the webhook delivery log (`admin`). Bearer tokens from `api.tokens`;
 * every call is logged with the token's name. Bodies and queries are checked by the JSON schemas
 * below (400 naming the field), which are also the OpenAPI document at `/api/openapi.json`.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { FallbackSends } from '../core/conversation/fallback.js';
import type { Storage } from '../core/storage/storage.js';
import type { WebhookDeliveryStatus } from '../core/storage/webhook-deliveries.js';
import type { WebhookDelivery } from '../core/storage/webhook-deliveries.js';
import { HubError } from '../core/errors.js';
import { detectLocale } from '../core/locale.js';
import type { TokenAuth } from './tokens.js';
import { MessageTemplates } from './templates.js';
import { bindExternal, conversationView, customerView, findCustomer, iso, sendView, type CustomerLookup } from './views.js';
import * as s from './schemas.js';
import { mountIdentityApi } from './identity.js';
import { answerError, requires } from './guards.js';

export interface ApiDeps {
  auth: TokenAuth;
  storage: Storage;
  sends: FallbackSends;
  templates: MessageTemplates;
  deliveries: { recent(o: { endpoint?: string | undefined; status?: WebhookDeliveryStatus | undefined; limit?: number | undefined }): Promise<WebhookDelivery[]> };
  log: Logger;
}

export { answerError, requires };

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

function bodyError(field: string, message: string): HubError {
  return new HubError('INPUT_INVALID', message, { context: { field } });
}

/** A stable hash of what a request asked (object keys sorted): POST /api/messages, POST /api/events. */
export function hashRequest(body: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canonical) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, canonical(x)])) : v;
  return createHash('sha256').update(JSON.stringify(canonical(body))).digest('hex');
}

/** 200 for a retry of the same request; a reused key with another request is a 409. */
function sameRequest(stored: string | null, now: string, key: string | undefined): 200 {
  if (stored !== null && stored !== now) {
    throw new HubError('CONFLICT', `Idempotency-Key "${key ?? ''}" was used for a different request; use a new key for a new message`, {
      context: { field: 'headers.idempotency-key' },
    });
  }
  return 200;
}

/** The locale of the customer's latest message (English when they never wrote). */
async function lastLocale(storage: Storage, customerId: string): Promise<string> {
  const last = (await storage.messages.ofCustomer(customerId, 10)).filter((m) => m.direction === 'in').pop();
  return detectLocale(last?.text ?? '', null);
}

/** The routes, registered in the `/api` scope (`hub.router.api(app => mountApi(app, deps))`). */
export async function mountApi(app: FastifyInstance, d: ApiDeps): Promise<void> {
  app.addHook('onResponse', async (request, reply) => {
    if (!request.apiCaller) return; // refusals are logged by the role check
    request.log.info(
      { tokenName: request.apiCaller.name, method: request.method, route: request.routeOptions.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'api call',
    );
  });

  await mountIdentityApi(app, { auth: d.auth, storage: d.storage, now: () => Date.now() });

  app.post<{ Body: s.SendBody; Headers: { 'idempotency-key'?: string } }>(
    '/messages',
    { schema: s.sendMessage, onRequest: requires(d.auth, 'events') },
    async (request, reply) => {
      try {
        const b = request.body;
        const given = request.headers['idempotency-key'];
        if (given !== undefined && !IDEMPOTENCY_KEY.test(given)) throw bodyError('headers.idempotency-key', 'Idempotency-Key must be 1 to 255 visible ASCII characters');
        if ((b.text === undefined) === (b.template === undefined)) throw bodyError('body.text', 'give either text or template (with vars), not both and not neither');
        if (b.vars !== undefined && b.template === undefined) throw bodyError('body.vars', 'vars go with a template');
        const key = `api:${given ?? randomUUID()}`;
        const requestHash = hashRequest(b);
        // A repeated key answers what the first call did, before anything else is looked at again.
        const earlier = given === undefined ? undefined : await d.sends.byKey(key);
        if (earlier) return reply.code(sameRequest(earlier.requestHash, requestHash, given)).send({ id: earlier.id, status: 'queued' });
        const { customer, bindExternalId } = await findCustomer(d.storage, b.customer as CustomerLookup);
        const locale = b.locale ?? customer.locale ?? (await lastLocale(d.storage, customer.id));
        const text = b.template !== undefined ? d.templates.render(b.template, locale, b.vars ?? {}) : (b.text ?? '');
        const { send, duplicate } = await d.sends.send({
          customerId: customer.id,
          content: { text, ...(b.buttons?.length ? { buttons: b.buttons } : {}) },
          ...(b.channels?.length ? { channels: b.channels } : {}),
          kind: 'api',
          key,
          requestHash,
        });
        if (duplicate) return reply.code(sameRequest(send.requestHash, requestHash, given)).send({ id: send.id, status: 'queued' });
        // The business's id sticks to the customer only once the message is accepted.
        if (bindExternalId !== undefined) await bindExternal(d.storage, customer, bindExternalId, request.log);
        return reply.code(202).send({ id: send.id, status: 'queued' });
      } catch (err) {
        return answerError(reply, err);
      }
    },
  );

  app.get<{ Params: { id: string } }>('/messages/:id', { schema: s.getMessage, onRequest: requires(d.auth, 'events') }, async (request, reply) => {
    const send = await d.sends.get(request.params.id);
    if (!send) return reply.code(404).send({ error: `no message ${request.params.id}`, code: 'NOT_FOUND' });
    return sendView(send);
  });

  app.get<{ Params: { id: string } }>('/customers/:id', { schema: s.getCustomer, onRequest: requires(d.auth, 'agent') }, async (request, reply) => {
    // A customer merged into another answers as the one it was merged into; an erased one is gone (docs/identity.md).
    const live = await d.storage.merges.survivorOf(request.params.id);
    const customer = live === undefined ? undefined : await d.storage.customers.get(live);
    if (!customer) return reply.code(404).send({ error: `no customer ${request.params.id}`, code: 'NOT_FOUND' });
    return customerView(customer, await d.storage.customers.identitiesOf(customer.id), await d.storage.conversations.ofCustomer(customer.id));
  });

  app.get<{ Querystring: { externalId: string } }>('/customers', { schema: s.findCustomerByExternalId, onRequest: requires(d.auth, 'agent') }, async (request, reply) => {
    const customer = await d.storage.customers.byExternalId(request.query.externalId);
    if (!customer) return reply.code(404).send({ error: `no customer with externalId "${request.query.externalId}"`, code: 'NOT_FOUND' });
    return customerView(customer, await d.storage.customers.identitiesOf(customer.id), await d.storage.conversations.ofCustomer(customer.id));
  });

  app.get<{ Params: { id: string }; Querystring: { limit: number } }>(
    '/conversations/:id',
    { schema: s.getConversation, onRequest: requires(d.auth, 'agent') },
    async (request, reply) => {
      const c = await d.storage.conversations.get(request.params.id);
      if (!c) return reply.code(404).send({ error: `no conversation ${request.params.id}`, code: 'NOT_FOUND' });
      return conversationView(c, await d.storage.messages.ofConversation(c.id, request.query.limit));
    },
  );

  app.get<{ Querystring: { endpoint?: string; status?: WebhookDeliveryStatus; limit: number } }>(
    '/webhooks/deliveries',
    { schema: s.getDeliveries, onRequest: requires(d.auth, 'admin') },
    async (request) => {
      const rows = await d.deliveries.recent(request.query);
      return {
        deliveries: rows.map((r) => ({
          id: r.id,
          endpoint: r.endpoint,
          eventId: r.eventId,
          eventType: r.eventType,
          conversationId: r.conversationId,
          status: r.status,
          attempts: r.attempts,
          lastStatusCode: r.lastStatusCode,
          lastError: r.lastError,
          nextAttemptAt: iso(r.nextAttemptAt),
          createdAt: iso(r.createdAt),
          deliveredAt: iso(r.deliveredAt),
        })),
      };
    },
  );
}
