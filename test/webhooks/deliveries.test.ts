/**
 * The delivery rows of outgoing webhooks (migrations webhooks:001_deliveries, 002_settled) on both
 * dialects: once per (endpoint, event), what holds a delivery back (order per conversation),
 * settling, the sweep's overdue list, the delivery log and deleting settled rows past retention.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openDb } from '../../src/core/storage/db.js';
import { Storage } from '../../src/core/storage/storage.js';
import { ManualClock } from '../../src/core/clock.js';
import { isHubError } from '../../src/core/errors.js';
import type { NewEvent, StoredEvent } from '../../src/core/events.js';
import { WebhookDeliveries } from '../../src/webhooks/index.js';
import { DIALECTS, makeDb, type TestDb } from '../helpers/env.js';

const received = (n: number): NewEvent => ({ type: 'message.received', actor: 'customer', payload: { messageId: `m${n}`, channel: 'loopback', toAgent: false } });
const answered = (n: number): NewEvent => ({ type: 'bot.answered', actor: 'bot', payload: { messageId: `m${n}`, confidence: 0.9, entryIds: [], sentiment: null } });
const opts = { types: null, subscriber: 'webhooks', horizonMs: 10 * 60_000 };

for (const dialect of DIALECTS) {
  describe(`webhook deliveries (${dialect})`, () => {
    let tdb: TestDb;
    let storage: Storage;
    const clock = new ManualClock(Date.UTC(2026, 10, 1));
    before(async () => {
      tdb = await makeDb(dialect);
      storage = await Storage.open(tdb.url, { clock });
    });
    after(async () => {
      await storage.close();
      await tdb.drop();
    });

    const append = (conv: string, events: NewEvent[]): Promise<StoredEvent[]> => storage.transaction((tx) => tx.events.append(conv, 'cust-1', events, () => true));
    const record = (endpoint: string, e: StoredEvent) =>
      storage.webhookDeliveries.record({ endpoint, eventId: e.id, eventType: e.type, conversationId: e.conversationId, body: `{"id":"${e.id}"}` });

    it('the migrations are registered as webhooks:001_deliveries and webhooks:002_settled', async () => {
      const db = openDb(tdb.url);
      try {
        const rows = await sql<{ name: string }>`select name from kysely_migration where name like 'webhooks:%'`.execute(db.kysely);
        assert.deepEqual(rows.rows.map((r) => r.name).sort(), ['webhooks:001_deliveries', 'webhooks:002_settled']);
      } finally {
        await db.close();
      }
    });

    it('records one delivery per (endpoint, event): the same event again returns the stored row', async () => {
      const [e] = await append('conv-once', [received(1)]);
      const first = await record('crm', e!);
      assert.equal(first.created, true);
      assert.equal(first.delivery.status, 'pending');
      assert.equal(first.delivery.attempts, 0);
      const again = await record('crm', e!);
      assert.equal(again.created, false);
      assert.equal(again.delivery.id, first.delivery.id);
      const other = await record('analytics', e!);
      assert.equal(other.created, true);
      assert.notEqual(other.delivery.id, first.delivery.id);
      assert.equal((await storage.webhookDeliveries.get(first.delivery.id))?.body, `{"id":"${e!.id}"}`);
    });

    it('settles a pending delivery once; attempts count POSTs only', async () => {
      const [e] = await append('conv-settle', [received(2)]);
      const { delivery } = await record('crm', e!);
      clock.advance(1000);
      assert.equal(await storage.webhookDeliveries.settle(delivery.id, { status: 'pending', attempted: true, statusCode: 500, error: 'HTTP 500: oops', nextAttemptAt: clock.now() + 1000 }), true);
      let d = await storage.webhookDeliveries.get(delivery.id);
      assert.deepEqual([d?.status, d?.attempts, d?.lastStatusCode, d?.lastError, d?.nextAttemptAt], ['pending', 1, 500, 'HTTP 500: oops', clock.now() + 1000]);
      assert.equal(await storage.webhookDeliveries.settle(delivery.id, { status: 'delivered', attempted: true, statusCode: 204, error: null }), true);
      d = await storage.webhookDeliveries.get(delivery.id);
      assert.deepEqual([d?.status, d?.attempts, d?.lastStatusCode, d?.lastError, d?.nextAttemptAt, d?.deliveredAt], ['delivered', 2, 204, null, null, clock.now()]);
      // A second outcome for a settled delivery changes nothing.
      assert.equal(await storage.webhookDeliveries.settle(delivery.id, { status: 'failed', attempted: true, statusCode: 400, error: 'late' }), false);
      assert.equal((await storage.webhookDeliveries.get(delivery.id))?.status, 'delivered');
    });

    it('an older pending delivery of the same endpoint and conversation holds a delivery back; nothing else does', async () => {
      const [e1, e2] = await append('conv-order', [received(3), answered(3)]);
      const [o1] = await append('conv-other', [received(4)]);
      const d2 = (await record('crm', e2!)).delivery;
      // e1's deliveries are not recorded yet and the subscriber has not handled it (no receipt): wait for it.
      assert.deepEqual(await storage.webhookDeliveries.blocker(d2, opts), { kind: 'unrecorded', eventId: e1!.id });
      // An endpoint that does not want e1's type does not wait for it.
      assert.equal(await storage.webhookDeliveries.blocker(d2, { ...opts, types: ['bot.answered'] }), undefined);
      const d1 = (await record('crm', e1!)).delivery;
      await storage.webhookDeliveries.settle(d1.id, { status: 'pending', attempted: true, statusCode: 503, error: 'HTTP 503', nextAttemptAt: clock.now() + 4000 });
      assert.deepEqual(await storage.webhookDeliveries.blocker(d2, opts), { kind: 'pending', deliveryId: d1.id, eventId: e1!.id, nextAttemptAt: clock.now() + 4000 });
      // The first delivery holds nothing back, nor does another conversation or another endpoint.
      assert.equal(await storage.webhookDeliveries.blocker(d1, opts), undefined);
      assert.equal(await storage.webhookDeliveries.blocker((await record('crm', o1!)).delivery, opts), undefined);
      const a1 = (await record('analytics', e1!)).delivery;
      await storage.webhookDeliveries.settle(a1.id, { status: 'delivered', attempted: true, statusCode: 200, error: null });
      assert.equal(await storage.webhookDeliveries.blocker((await record('analytics', e2!)).delivery, opts), undefined);
    });

    it('a delivery that failed for good or went out holds nothing back; an old unrecorded event is not waited for', async () => {
      const [e1, e2, e3] = await append('conv-free', [received(5), answered(5), received(6)]);
      const d1 = (await record('crm', e1!)).delivery;
      const d3 = (await record('crm', e3!)).delivery;
      await storage.webhookDeliveries.settle(d1.id, { status: 'failed', attempted: true, statusCode: 404, error: 'HTTP 404' });
      // e2 is not recorded for crm: waited for while the subscriber may still handle it...
      assert.deepEqual(await storage.webhookDeliveries.blocker(d3, opts), { kind: 'unrecorded', eventId: e2!.id });
      // ...not once the subscriber has handled it (crm did not want it then)...
      await storage.events.addReceipt('webhooks', e2!.id);
      assert.equal(await storage.webhookDeliveries.blocker(d3, opts), undefined);
      // ...and never once it is older than the horizon (written before the endpoint existed).
      const [f1, f2] = await append('conv-old', [received(7), answered(7)]);
      const df2 = (await record('crm', f2!)).delivery;
      assert.deepEqual(await storage.webhookDeliveries.blocker(df2, opts), { kind: 'unrecorded', eventId: f1!.id });
      clock.advance(opts.horizonMs + 1000);
      assert.equal(await storage.webhookDeliveries.blocker(df2, opts), undefined);
    });

    it('lists overdue pending deliveries for the sweep, and the delivery log newest first', async () => {
      clock.advance(3600_000);
      const events = await append('conv-log', [received(8), answered(8), received(9)]);
      const ids: string[] = [];
      for (const e of events) ids.push((await record('log-a', e)).delivery.id);
      ids.push((await record('log-b', events[0]!)).delivery.id);
      await storage.webhookDeliveries.settle(ids[0]!, { status: 'delivered', attempted: true, statusCode: 200, error: null });
      await storage.webhookDeliveries.postpone(ids[2]!, clock.now() + 120_000);
      clock.advance(61_000);
      const overdue = (await storage.webhookDeliveries.overdue(clock.now() - 60_000)).map((d) => d.id);
      assert.ok(overdue.includes(ids[1]!) && overdue.includes(ids[3]!));
      assert.ok(!overdue.includes(ids[0]!), 'a delivered one is not overdue');
      assert.ok(!overdue.includes(ids[2]!), 'a postponed one is not overdue');

      const log = new WebhookDeliveries(storage);
      assert.deepEqual((await log.recent({ endpoint: 'log-a' })).map((d) => d.id), [ids[2], ids[1], ids[0]]);
      assert.deepEqual((await log.recent({ endpoint: 'log-a', limit: 2 })).map((d) => d.id), [ids[2], ids[1]]);
      assert.deepEqual((await log.recent({ endpoint: 'log-a', status: 'delivered' })).map((d) => [d.id, d.status, d.attempts, d.lastStatusCode]), [[ids[0], 'delivered', 1, 200]]);
      assert.deepEqual((await log.recent({ limit: 1 })).map((d) => d.id), [ids[3]]);
      const [entry] = await log.recent({ endpoint: 'log-b' });
      assert.deepEqual(Object.keys(entry!).sort(), [
        'attempts',
        'conversationId',
        'createdAt',
        'deliveredAt',
        'endpoint',
        'eventId',
        'eventType',
        'id',
        'lastError',
        'lastStatusCode',
        'nextAttemptAt',
        'status',
        'updatedAt',
      ]);
      await assert.rejects(log.recent({ limit: 0 }), (e: unknown) => isHubError(e, 'INPUT_INVALID') && /limit must be a whole number from 1 to 500, got 0/.test(e.message));
      await assert.rejects(log.recent({ limit: 501 }), (e: unknown) => isHubError(e, 'INPUT_INVALID'));
      await assert.rejects(log.recent({ status: 'sent' as 'pending' }), (e: unknown) => isHubError(e, 'INPUT_INVALID') && /status must be pending, delivered or failed, got "sent"/.test(e.message));
    });

    it('deletes settled deliveries last changed before the cutoff, oldest first and at most `limit`; pending ones stay', async () => {
      clock.advance(86_400_000);
      // The earlier tests' settled rows (all older) go first.
      const earlier = await storage.webhookDeliveries.pruneSettled(clock.now(), 1000);
      assert.ok(earlier >= 2, `the earlier tests settled some deliveries (${earlier})`);
      assert.equal(await storage.webhookDeliveries.pruneSettled(clock.now(), 1000), 0);
      const events = await append('conv-prune', [received(20), answered(20), received(21), answered(21), received(22)]);
      const ids: string[] = [];
      for (const e of events) ids.push((await record('prune', e)).delivery.id);
      const [delivered1, failed, delivered2, pendingOld, recent] = ids as [string, string, string, string, string];
      await storage.webhookDeliveries.settle(delivered1, { status: 'delivered', attempted: true, statusCode: 200, error: null });
      clock.advance(1000);
      await storage.webhookDeliveries.settle(failed, { status: 'failed', attempted: true, statusCode: 410, error: 'gone' });
      clock.advance(1000);
      await storage.webhookDeliveries.settle(delivered2, { status: 'delivered', attempted: true, statusCode: 200, error: null });
      const cutoff = clock.now() + 1;
      clock.advance(5000);
      await storage.webhookDeliveries.settle(recent, { status: 'delivered', attempted: true, statusCode: 200, error: null });
      const left = async () => (await storage.webhookDeliveries.recent({ endpoint: 'prune', limit: 100 })).map((d) => d.id).sort();
      assert.equal(await storage.webhookDeliveries.pruneSettled(cutoff, 2), 2);
      assert.deepEqual(await left(), [delivered2, pendingOld, recent].sort(), 'the two oldest settled went first');
      assert.equal(await storage.webhookDeliveries.pruneSettled(cutoff, 1000), 1);
      assert.deepEqual(await left(), [pendingOld, recent].sort());
      assert.equal(await storage.webhookDeliveries.pruneSettled(clock.now() + 86_400_000, 1000), 1, 'only the settled one; the pending one stays at any age');
      assert.deepEqual(await left(), [pendingOld]);
      assert.equal(await storage.webhookDeliveries.get(failed), undefined);
    });
  });
}
