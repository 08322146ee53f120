/**
 * The API's read routes (issue #13): customers and conversations for the business's tools (role
 * agent), the webhook delivery log (role admin), and the OpenAPI document built from the schemas.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';

const ADMIN = generateToken();
const AGENT = generateToken();
const EVENTS = generateToken();

describe('API read routes', () => {
  let t: TestHub;
  let receiver: Server;
  const received: string[] = [];
  const lb = new LoopbackAdapter({ channel: 'alpha' });
  const get = async (path: string, token?: string) => {
    const res = await fetch(`${t.hub.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: string; field?: string } };
  };
  let customerId: string;
  let conversationId: string;

  before(async () => {
    receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push(body);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as AddressInfo).port;
    t = await startTestHub({
      adapters: [lb],
      config: {
        api: {
          tokens: [
            { name: 'ops', roles: ['admin'], sha256: hashToken(ADMIN) },
            { name: 'helpdesk', roles: ['agent'], sha256: hashToken(AGENT) },
            { name: 'crm', roles: ['events'], sha256: hashToken(EVENTS) },
          ],
        },
        webhooks: [{ name: 'crm-hook', url: `http://127.0.0.1:${port}/hook`, events: ['message.received'], secret: 'whsec_read_test_0123456789' }],
      },
    });
    await lb.receive('bob', 'where is my refund', { userName: 'Bob Lee' });
    await lb.waitForSent(1);
    const identity = await until(() => t.hub.storage.customers.findIdentity('alpha', 'bob'));
    customerId = identity.customerId;
    conversationId = (await t.hub.storage.conversations.ofCustomer(customerId))[0]?.id ?? '';
  });
  after(async () => {
    await t.stop();
    await new Promise((r) => receiver.close(r));
  });

  it('GET /api/customers/:id: profile, identities and conversations, to agent (and admin) tokens', async () => {
    const r = await get(`/api/customers/${customerId}`, AGENT);
    assert.equal(r.status, 200);
    assert.equal(r.body.id, customerId);
    assert.equal(r.body.displayName, 'Bob Lee');
    assert.equal(r.body.externalId, null);
    assert.deepEqual(r.body.identities, [{ channel: 'alpha', id: 'bob', displayName: 'Bob Lee', verified: false, reachable: true }]);
    const convs = r.body.conversations as { id: string; channel: string; status: string; createdAt: string }[];
    assert.equal(convs.length, 1);
    assert.equal(convs[0]?.id, conversationId);
    assert.ok(!Number.isNaN(Date.parse(convs[0]?.createdAt ?? '')));
    assert.equal((await get(`/api/customers/${customerId}`, ADMIN)).status, 200);
    assert.equal((await get(`/api/customers/${customerId}`, EVENTS)).status, 403);
    assert.equal((await get(`/api/customers/${customerId}`)).status, 401);
    const missing = await get('/api/customers/no-such-id', AGENT);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error, 'no customer no-such-id');
  });

  it('GET /api/customers?externalId= finds the customer the business named through POST /api/messages', async () => {
    const sent = await fetch(`${t.hub.url}/api/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${EVENTS}`, 'content-type': 'application/json' },
      body: JSON.stringify({ customer: { externalId: 'crm-77', identities: [{ channel: 'alpha', id: 'bob' }] }, text: 'Your refund was paid.' }),
    });
    assert.equal(sent.status, 202);
    const r = await get('/api/customers?externalId=crm-77', AGENT);
    assert.equal(r.status, 200);
    assert.equal(r.body.id, customerId);
    assert.equal(r.body.externalId, 'crm-77');
    assert.equal((await get('/api/customers?externalId=crm-404', AGENT)).status, 404);
    // Webhooks name the customer by the business's id from then on.
    await lb.receive('bob', 'thanks, got it');
    const hook = await until(() =>
      received.map((b) => JSON.parse(b) as { customer: { externalId?: string }; data: { text?: string } }).find((b) => b.customer.externalId === 'crm-77'),
    );
    assert.deepEqual(hook.customer, { id: customerId, externalId: 'crm-77', identities: [{ channel: 'alpha', id: 'bob' }] });
    const bad = await get('/api/customers', AGENT);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'querystring.externalId');
  });

  it('GET /api/conversations/:id: the conversation with its messages, oldest first, limit checked', async () => {
    await until(() => lb.sent.some((m) => m.text === 'Your refund was paid.'));
    const r = await until(async () => {
      const x = await get(`/api/conversations/${conversationId}`, AGENT);
      const msgs = x.body.messages as { text: string; delivery?: string }[];
      return msgs.some((m) => m.text === 'Your refund was paid.' && m.delivery === 'sent') ? x : undefined;
    });
    assert.equal(r.body.customerId, customerId);
    assert.equal(r.body.channel, 'alpha');
    const msgs = r.body.messages as { direction: string; author: string; text: string; delivery?: string; sentAt?: string | null }[];
    assert.deepEqual(msgs[0] && { direction: msgs[0].direction, author: msgs[0].author, text: msgs[0].text }, { direction: 'in', author: 'customer', text: 'where is my refund' });
    assert.equal(msgs[0]?.delivery, undefined, 'inbound messages have no delivery');
    const last = msgs.find((m) => m.text === 'Your refund was paid.');
    assert.equal(last?.author, 'system');
    assert.equal(last?.direction, 'out');
    assert.ok(last?.sentAt && !Number.isNaN(Date.parse(last.sentAt)));
    const newest = await until(async () => {
      const all = (await get(`/api/conversations/${conversationId}?limit=500`, AGENT)).body.messages as { id: string; text: string }[];
      return all.some((m) => m.text === 'thanks, got it') ? all.at(-1) : undefined;
    });
    const one = await get(`/api/conversations/${conversationId}?limit=1`, AGENT);
    assert.deepEqual((one.body.messages as { id: string }[]).map((m) => m.id), [newest.id]);
    const tooMany = await get(`/api/conversations/${conversationId}?limit=501`, AGENT);
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.body.field, 'querystring.limit');
    assert.equal((await get('/api/conversations/none', AGENT)).status, 404);
  });

  it('GET /api/webhooks/deliveries: the delivery log, admin only, filters checked', async () => {
    await until(() => received.length > 0);
    const r = await until(async () => {
      const x = await get('/api/webhooks/deliveries?endpoint=crm-hook', ADMIN);
      const d = x.body.deliveries as { status: string }[];
      return d.some((e) => e.status === 'delivered') ? x : undefined;
    });
    const d = (r.body.deliveries as { endpoint: string; eventType: string; status: string; attempts: number; lastStatusCode: number; conversationId: string; deliveredAt: string }[])[0];
    assert.equal(d?.endpoint, 'crm-hook');
    assert.equal(d?.eventType, 'message.received');
    assert.equal(d?.conversationId, conversationId);
    assert.equal(d?.attempts, 1);
    assert.equal(d?.lastStatusCode, 200);
    assert.ok(!Number.isNaN(Date.parse(d?.deliveredAt ?? '')));
    assert.deepEqual((await get('/api/webhooks/deliveries?status=failed', ADMIN)).body.deliveries, []);
    const bad = await get('/api/webhooks/deliveries?status=lost', ADMIN);
    assert.equal(bad.status, 400);
    assert.equal(bad.body.field, 'querystring.status');
    assert.equal((await get('/api/webhooks/deliveries', AGENT)).status, 403);
  });

  it('GET /api/openapi.json: the API routes from their schemas, nothing else', async () => {
    const r = await get('/api/openapi.json');
    assert.equal(r.status, 200);
    assert.equal(r.body.openapi, '3.1.0');
    const paths = r.body.paths as Record<string, Record<string, { responses: Record<string, unknown>; requestBody?: unknown }>>;
    assert.deepEqual(Object.keys(paths).sort(), [
      '/api/analytics/conversations',
      '/api/analytics/escalations',
      '/api/analytics/gaps',
      '/api/analytics/gaps/{id}/draft',
      '/api/analytics/kpis',
      '/api/analytics/proactive',
      '/api/analytics/response-times',
      '/api/analytics/volume',
      '/api/audit',
      '/api/conversations/{id}',
      '/api/customers',
      '/api/customers/{externalId}/link-tokens',
      '/api/customers/{id}',
      '/api/customers/{id}/export',
      '/api/customers/{id}/merge',
      '/api/customers/{id}/unlink',
      '/api/events',
      '/api/events/{id}',
      '/api/messages',
      '/api/messages/{id}',
      '/api/webhooks/deliveries',
    ]);
    assert.deepEqual(Object.keys(paths['/api/messages'] ?? {}), ['post']);
    const post = paths['/api/messages']?.post;
    assert.ok(post?.requestBody, 'the request body schema is documented');
    assert.deepEqual(Object.keys(post?.responses ?? {}).sort(), ['200', '202', '400', '401', '403', '404', '409', '422', '429']);
  });
});
