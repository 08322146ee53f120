/**
 * `POST /api/events` and `GET /api/events/:id` (issue #15): a real hub on real Redis and both
 * databases, a workflows folder in a temp config dir, tokens from api.tokens.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { DIALECTS } from '../helpers/env.js';
import { workflowConfigDir } from './config-dir.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';

const EVENTS = generateToken();
const AGENT = generateToken();
const TOKENS = [
  { name: 'crm', roles: ['events' as const], sha256: hashToken(EVENTS) },
  { name: 'helpdesk', roles: ['agent' as const], sha256: hashToken(AGENT) },
];

function configDir(): string {
  const { dir } = workflowConfigDir('sb-wf-api-');
  writeFileSync(
    join(dir, 'workflows', 'welcome.yaml'),
    [
      'kind: reminder',
      'trigger:',
      '  event: account.opened',
      '  data: { accountId: string, plan: string, trialEnds: datetime }',
      'correlationKey: accountId',
      'steps:',
      '  - id: hello',
      '    send:',
      '      text: { en: "Welcome to {{plan}}!", zh: "欢迎使用{{plan}}！" }',
      '',
    ].join('\n'),
  );
  return dir;
}

type Answer = { id?: string; runs?: { id: string; workflow: string }[]; error?: string; field?: string; code?: string };
type EventStatus = { id: string; type: string; customerId: string; runs: { id: string; workflow: string; status: string; steps: { id: string; action: string; status: string; result?: { sendId?: string } }[] }[] };

for (const dialect of DIALECTS) {
  describe(`POST /api/events (${dialect})`, () => {
    let t: TestHub;
    const a = new LoopbackAdapter({ channel: 'alpha' });
    const call = (path: string, init: { token?: string; body?: unknown; key?: string } = {}) =>
      fetch(`${t.hub.url}${path}`, {
        method: init.body === undefined ? 'GET' : 'POST',
        headers: {
          ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
          ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(init.key ? { 'idempotency-key': init.key } : {}),
        },
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      });
    const post = async (body: unknown, key?: string, token = EVENTS) => {
      const res = await call('/api/events', { token, body, ...(key ? { key } : {}) });
      return { status: res.status, body: (await res.json()) as Answer };
    };
    const event = (accountId: string, customer: unknown = { identities: [{ channel: 'alpha', id: 'bob' }] }) => ({
      type: 'account.opened',
      customer,
      data: { accountId, plan: 'Pro', trialEnds: '2030-01-01T00:00:00Z' },
    });

    before(async () => {
      t = await startTestHub({ dialect, adapters: [a], configDir: configDir(), config: { api: { tokens: TOKENS } } });
    });
    after(() => t.stop());

    it('refuses a missing or wrong-role token (401 / 403)', async () => {
      assert.equal((await call('/api/events', { body: event('x') })).status, 401);
      assert.equal((await post(event('x'), undefined, AGENT)).status, 403);
      assert.equal((await call('/api/events/nope', {})).status, 401);
    });

    it('a bad event is 400 naming the field; an unknown type names body.type and the known ones', async () => {
      const unknown = await post({ ...event('x'), type: 'account.closed' });
      assert.equal(unknown.status, 400);
      assert.equal(unknown.body.field, 'body.type');
      assert.match(unknown.body.error ?? '', /account\.opened/);
      const bad = await post({ ...event('x'), data: { accountId: 'x', plan: 'Pro', trialEnds: 'next week' } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.field, 'body.data.trialEnds');
      const missing = await post({ ...event('x'), data: { accountId: 'x', trialEnds: '2030-01-01T00:00:00Z' } });
      assert.equal(missing.status, 400);
      assert.equal(missing.body.field, 'body.data.plan');
      const nobody = await post(event('x', {}));
      assert.equal(nobody.status, 400);
      assert.equal(nobody.body.field, 'body.customer');
    });

    it('an unknown customer is created with the identities (unverified) and the externalId, and gets the message', async () => {
      const r = await post(event('acc-1', { externalId: 'crm-42', identities: [{ channel: 'alpha', id: 'carol' }], locale: 'zh-CN' }));
      assert.equal(r.status, 202);
      assert.equal(r.body.runs?.length, 1);
      assert.equal(r.body.runs?.[0]?.workflow, 'welcome');
      const customer = await t.hub.storage.customers.byExternalId('crm-42');
      assert.ok(customer);
      const ids = await t.hub.storage.customers.identitiesOf(customer.id);
      assert.deepEqual(ids.map((i) => [i.channel, i.platformUserId, i.verified]), [['alpha', 'carol', false]]);
      await until(() => a.sentTo('carol').length === 1 || undefined);
      assert.equal(a.sentTo('carol')[0]?.text, '欢迎使用Pro！');
      const status = await until(async () => {
        const s = (await (await call(`/api/events/${r.body.id ?? ''}`, { token: EVENTS })).json()) as EventStatus;
        return s.runs[0]?.status === 'done' ? s : undefined;
      });
      assert.equal(status.customerId, customer.id);
      assert.equal(status.runs[0]?.steps[0]?.id, 'hello');
      assert.equal(status.runs[0]?.steps[0]?.action, 'send');
      assert.equal(status.runs[0]?.steps[0]?.status, 'done');
      assert.ok(status.runs[0]?.steps[0]?.result?.sendId);
    });

    it('the same Idempotency-Key gives the same event and no second run; another event under it is 409', async () => {
      const body = event('acc-2', { identities: [{ channel: 'alpha', id: 'dave' }] });
      const first = await post(body, 'crm-event-7');
      assert.equal(first.status, 202);
      const again = await post(body, 'crm-event-7');
      assert.equal(again.status, 200);
      assert.deepEqual(again.body, first.body);
      const other = await post(event('acc-3', { identities: [{ channel: 'alpha', id: 'dave' }] }), 'crm-event-7');
      assert.equal(other.status, 409);
      assert.equal(other.body.field, 'headers.idempotency-key');
      await until(() => a.sentTo('dave').length === 1 || undefined);
      const s = (await (await call(`/api/events/${first.body.id ?? ''}`, { token: EVENTS })).json()) as EventStatus;
      assert.equal(s.runs.length, 1);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(a.sentTo('dave').length, 1);
    });

    it('GET of an unknown event is 404', async () => {
      assert.equal((await call('/api/events/no-such-event', { token: EVENTS })).status, 404);
    });
  });
}
