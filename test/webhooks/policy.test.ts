/** The delivery policy's pieces: Retry-After, the backoff schedule, the signature, an endpoint gone from hub.yaml. */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { pino } from 'pino';
import { Storage } from '../../src/core/storage/storage.js';
import { MAX_BACKOFF_MS, RETRY_WINDOW_MS, backoff, deliverStep } from '../../src/webhooks/deliver.js';
import { retryAfterMs } from '../../src/webhooks/post.js';
import { signatureHeader } from '../../src/webhooks/payload.js';
import { sqliteDb } from '../helpers/env.js';

describe('webhook delivery policy', () => {
  it('reads Retry-After as seconds or an HTTP date; anything else is ignored', () => {
    const now = Date.parse('2026-03-01T10:00:00Z');
    assert.equal(retryAfterMs('120', now), 120_000);
    assert.equal(retryAfterMs(' 0 ', now), 0);
    assert.equal(retryAfterMs('Sun, 01 Mar 2026 10:00:30 GMT', now), 30_000);
    assert.equal(retryAfterMs('Sun, 01 Mar 2026 09:59:00 GMT', now), 0, 'a date in the past: now');
    for (const bad of [null, '', '1.5', '-3', 'soon', 'Sun, 99 Foo 2026']) assert.equal(retryAfterMs(bad, now), undefined, String(bad));
  });

  it('backs off exponentially from queues.backoffMs up to an hour; 24 hours in all', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoff(1000, n)), [1000, 2000, 4000, 8000, 16_000]);
    assert.equal(backoff(1000, 13), MAX_BACKOFF_MS);
    assert.equal(backoff(1000, 500), MAX_BACKOFF_MS);
    assert.equal(MAX_BACKOFF_MS, 3600_000);
    assert.equal(RETRY_WINDOW_MS, 24 * 3600_000);
  });

  it('signs "<t>.<body>" with HMAC-SHA256 and the endpoint secret', () => {
    const body = '{"id":"1","type":"csat.given","data":{"score":5}}';
    const h = signatureHeader('whsec-0123456789abcdef', body, 1767225600.9);
    const want = createHmac('sha256', 'whsec-0123456789abcdef').update(`1767225600.${body}`).digest('hex');
    assert.equal(h, `t=1767225600,v1=${want}`);
  });

  it('a pending delivery of an endpoint no longer in hub.yaml fails, naming it, without a POST', async () => {
    const db = sqliteDb();
    const storage = await Storage.open(db.url);
    after(async () => {
      await storage.close();
      await db.drop();
    });
    const [e] = await storage.transaction((tx) =>
      tx.events.append('conv-1', 'cust-1', [{ type: 'conversation.claimed', actor: 'agent:U1', payload: { agentId: 'U1' } }], () => true),
    );
    const { delivery } = await storage.webhookDeliveries.record({ endpoint: 'old-crm', eventId: e!.id, eventType: e!.type, conversationId: 'conv-1', body: '{}' });
    const next = await deliverStep({ storage, log: pino({ level: 'silent' }), endpoint: () => undefined, backoffMs: 1000, now: () => Date.now() }, delivery.id);
    assert.deepEqual(next, { done: true });
    const d = await storage.webhookDeliveries.get(delivery.id);
    assert.deepEqual([d?.status, d?.attempts, d?.lastError], ['failed', 0, 'endpoint "old-crm" is no longer in hub.yaml (webhooks)']);
  });
});
