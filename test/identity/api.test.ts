/**
 * The identity API on a live hub (issue #16): merge and unlink (role agent, audited with who and
 * why), the audit log (role admin), a customer's export (theirs and nobody else's) and erase
 * (nothing of theirs readable after, a tombstone with counts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';
import { DIALECTS } from '../helpers/env.js';
import { existsSync, readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { openDb } from '../../src/core/storage/db.js';

const ADMIN = generateToken();
const AGENT = generateToken();
const EVENTS = generateToken();

for (const dialect of DIALECTS) {
  describe(`identity API (${dialect})`, () => {
    let t: TestHub;
    const alpha = new LoopbackAdapter({ channel: 'alpha' });
    const beta = new LoopbackAdapter({ channel: 'beta' });
    const call = async (method: string, path: string, token?: string, body?: unknown) => {
      const res = await fetch(`${t.hub.url}${path}`, {
        method,
        headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> & { error?: string; field?: string } };
    };
    const customerOf = async (channel: string, user: string) => (await until(() => t.hub.storage.customers.findIdentity(channel, user))).customerId;

    before(async () => {
      t = await startTestHub({
        dialect,
        adapters: [alpha, beta],
        config: {
          api: {
            tokens: [
              { name: 'ops', roles: ['admin'], sha256: hashToken(ADMIN) },
              { name: 'helpdesk', roles: ['agent'], sha256: hashToken(AGENT) },
              { name: 'crm', roles: ['events'], sha256: hashToken(EVENTS) },
            ],
          },
        },
      });
      await alpha.receive('ann', 'my parcel 1001 never came', { userName: 'Ann' });
      await beta.receive('ann-b', 'hello, Ann here, ann@example.com', { userName: 'Ann B' });
      await alpha.receive('eve', 'I am Ann, my email is ann@example.com', { userName: 'Eve' });
      await alpha.waitForSent(2);
      await beta.waitForSent(1);
    });
    after(async () => {
      await t.stop();
    });

    it('merge (agent) moves the history, unlink restores it; both audited with who and why; roles enforced', async () => {
      const a = await customerOf('alpha', 'ann');
      const b = await customerOf('beta', 'ann-b');
      const eve = await customerOf('alpha', 'eve');
      assert.notEqual(eve, a, 'an email typed in a message links nothing');
      assert.equal((await call('POST', `/api/customers/${a}/merge`, EVENTS, { from: b, reason: 'x' })).status, 403);
      assert.equal((await call('POST', `/api/customers/${a}/merge`, undefined, { from: b, reason: 'x' })).status, 401);
      assert.equal((await call('POST', `/api/customers/${a}/merge`, AGENT, { from: b })).body.field, 'body.reason');

      const m = await call('POST', `/api/customers/${a}/merge`, AGENT, { from: b, reason: 'customer confirmed by phone', agent: 'Lin' });
      assert.equal(m.status, 200, JSON.stringify(m.body));
      assert.deepEqual(m.body.moved, { identities: 1, conversations: 1, proactiveSends: 0, workflowRuns: 0 });
      const view = await call('GET', `/api/customers/${a}`, AGENT);
      assert.deepEqual((view.body.identities as { channel: string }[]).map((i) => i.channel).sort(), ['alpha', 'beta']);
      assert.equal((await call('POST', `/api/customers/${a}/merge`, AGENT, { from: b, reason: 'again' })).status, 409);
      assert.equal((await call('GET', `/api/customers/${b}`, AGENT)).body.id, a, 'a merged customer answers as the survivor');

      assert.equal((await call('POST', `/api/customers/${a}/unlink`, AGENT, { channel: 'beta', id: 'nobody', reason: 'x' })).status, 404);
      const u = await call('POST', `/api/customers/${a}/unlink`, AGENT, { channel: 'beta', id: 'ann-b', reason: 'merged by mistake' });
      assert.equal(u.status, 200, JSON.stringify(u.body));
      assert.equal(u.body.customerId, b);
      assert.equal(u.body.restored, true);

      assert.equal((await call('GET', '/api/audit', AGENT)).status, 403);
      const audit = await call('GET', `/api/audit?customerId=${a}`, ADMIN);
      const entries = audit.body.entries as { action: string; actor: { kind: string; name: string }; reason: string | null; at: string }[];
      const merge = entries.find((e) => e.action === 'merge');
      assert.deepEqual(merge?.actor, { kind: 'agent', name: 'Lin (token helpdesk)' });
      assert.equal(merge?.reason, 'customer confirmed by phone');
      assert.ok(merge && !Number.isNaN(Date.parse(merge.at)));
      assert.equal(entries.find((e) => e.action === 'unlink')?.reason, 'merged by mistake');
      assert.ok(entries.some((e) => e.action === 'merge_refused'));
    });

    it('export holds all of the customer’s data and nobody else’s; erase leaves nothing readable but counts', async () => {
      const a = await customerOf('alpha', 'ann');
      const eve = await customerOf('alpha', 'eve');
      assert.equal((await call('GET', `/api/customers/${a}/export`, AGENT)).status, 403);
      const ex = await call('GET', `/api/customers/${a}/export`, ADMIN);
      assert.equal(ex.status, 200);
      const tables = ex.body.tables as Record<string, Record<string, unknown>[]>;
      const text = JSON.stringify(ex.body);
      assert.ok(text.includes('my parcel 1001 never came'));
      assert.ok(!text.includes('I am Ann, my email'), 'nothing of the other customer');
      assert.ok((tables.messages ?? []).every((m) => m.customer_id === a));
      assert.ok((tables.identities ?? []).some((i) => i.platform_user_id === 'ann'));

      // The hub encrypts PII at rest: the file checks below look for the stored (sealed) texts.
      const sealedOf = async (customerId: string): Promise<string[]> => {
        const db = openDb(t.db.url);
        try {
          return (await sql<{ text: string }>`select text from messages where customer_id = ${customerId} and direction = 'in'`.execute(db.kysely)).rows.map((r) => r.text);
        } finally {
          await db.close();
        }
      };
      const [aSealed] = await sealedOf(a);
      const [eveSealed] = await sealedOf(eve);
      assert.equal((await call('DELETE', `/api/customers/${a}`, AGENT)).status, 403);
      const del = await call('DELETE', `/api/customers/${a}?reason=customer%20asked`, ADMIN);
      assert.equal(del.status, 200, JSON.stringify(del.body));
      const tomb = del.body.tombstone as { messagesIn: number; messagesOut: number; identities: Record<string, number> };
      assert.equal(tomb.messagesIn, 1);
      assert.ok(tomb.messagesOut >= 1);
      assert.deepEqual(tomb.identities, { alpha: 1 });
      assert.equal(await t.hub.storage.customers.findIdentity('alpha', 'ann'), undefined);
      assert.deepEqual(await t.hub.storage.messages.ofCustomer(a, 100), []);
      assert.equal((await t.hub.storage.customers.get(a))?.displayName, null);
      assert.equal((await call('GET', `/api/customers/${a}/export`, ADMIN)).status, 404);
      assert.equal((await call('DELETE', `/api/customers/${a}`, ADMIN)).status, 404);
      assert.equal((await call('GET', `/api/customers/${a}`, AGENT)).status, 404);
      assert.equal((await t.hub.storage.messages.ofCustomer(eve, 100)).length >= 1, true, 'others keep theirs');
      if (dialect === 'sqlite') {
        // Not in the database file, nor in its write-ahead log (freed pages are zeroed, the WAL truncated).
        const file = t.db.url.slice('sqlite:'.length);
        for (const f of [file, `${file}-wal`]) {
          if (existsSync(f)) assert.ok(!readFileSync(f).includes(aSealed ?? 'missing'), `${f} still holds the erased text`);
        }
        assert.ok(readFileSync(file).includes(eveSealed ?? 'missing'), 'the check can see text that is there');
      }
      const audit = await call('GET', `/api/audit?customerId=${a}&action=erase`, ADMIN);
      const [erase] = audit.body.entries as { actor: { name: string }; reason: string }[];
      assert.equal(erase?.actor.name, 'ops');
      assert.equal(erase?.reason, 'customer asked');
      assert.equal((await call('GET', `/api/audit?customerId=${a}&action=export`, ADMIN)).body.entries instanceof Array, true);
    });
  });
}
