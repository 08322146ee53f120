/**
 * PII encrypted at rest, the columns beyond messages and identities (issue #16, docs/identity.md
 * "Encryption at rest"): a proactive send that fails on its only channel (the send's content and
 * attempts, the message's error, the `message.failed` event), an agent note, an unreachable
 * identity's event, a desk case snapshot, a webhook delivery (body and refusal), a pending answer
 * and an audit reason. On both databases: read back as written, none of the known texts in the raw
 * database (the same writes without a codec show each of them), rotation, rows from before
 * encryption, and `kb pending` with the hub's keys.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { Storage } from '../../src/core/storage/storage.js';
import { createPiiCodec, type PiiCodec } from '../../src/core/storage/pii.js';
import { recordInbound } from '../../src/core/conversation/inbound.js';
import { AgentActions } from '../../src/core/conversation/agent-actions.js';
import { FallbackSends } from '../../src/core/conversation/fallback.js';
import { processOutbound, type OutboundDeps } from '../../src/core/conversation/outbound.js';
import { EventSubscriptions, readEvent } from '../../src/core/events.js';
import { HubError } from '../../src/core/errors.js';
import type { ChangeDeps } from '../../src/core/conversation/change.js';
import type { ChannelAdapter } from '../../src/core/adapter.js';
import type { HubMetrics } from '../../src/core/metrics.js';
import { deliverStep } from '../../src/webhooks/deliver.js';
import type { WebhookEndpoint } from '../../src/webhooks/config.js';
import { kbPending } from '../../src/cli/kb-pending.js';
import { DIALECTS, makeDb, type TestDb } from '../helpers/env.js';
import { startReceiver, type Receiver } from '../webhooks/receiver.js';
import { inbound, rawText } from './helpers.js';

const K1 = randomBytes(32);
const K2 = randomBytes(32);
const HASH = randomBytes(32);
const codec = (keys: [string, Buffer][]): PiiCodec => createPiiCodec({ keys: keys.map(([id, key]) => ({ id, key })), hashSecret: HASH });
const envOf = (keys: [string, Buffer][]) => ({ SWITCHBOARD_PII_KEYS: keys.map(([id, k]) => `${id}:${k.toString('base64')}`).join(','), SWITCHBOARD_PII_HASH_KEY: HASH.toString('base64') });

/** One known text per column, so a failure names what leaked. */
const S = {
  proactive: 'Proactive: refund of 4711 yuan for Wang Xiaoming',
  failed: 'chat not found for fail.victim@example.org',
  note: 'Note: Han Meimei lives at 5 Elm Street',
  unreachable: 'blocked by +86 139 2222 3333',
  deskName: 'Desk Customer Zhou Jielun',
  deskText: 'Desk snapshot: my flat is 9 Harbour Road',
  webhook: 'Webhook text: deliver to 12 Quarry Lane',
  refusal: 'refused, echoing Quarry-Lane-Echo',
  question: 'Where is the parcel for Li Lei at 88 Nanjing Road?',
  answer: 'Dear Li-Lei-Answer, it left the depot',
  reason: 'merged because Sun Wukong called from 0755 1234',
} as const;

const silent = pino({ level: 'silent' });

/** What the hub's pieces write, through their own code: returns the ids to read back. */
async function writeAll(storage: Storage, rx: Receiver) {
  const subs = new EventSubscriptions();
  const deps: ChangeDeps & { now(): number; available(): boolean } = {
    storage,
    queues: { addOutbound: async () => undefined } as unknown as ChangeDeps['queues'],
    // Delivers in place what a subscriber wants, reading the event back from storage as the worker does.
    dispatcher: {
      wanted: (t: string, p?: unknown) => subs.has(t, p),
      dispatch: async (events: readonly { id: string; type: string; payload: unknown }[]) => {
        for (const e of events) for (const name of subs.subscribersOf(e.type, e.payload)) await subs.deliver(name, (await storage.events.get(e.id))!);
      },
    } as unknown as ChangeDeps['dispatcher'],
    now: () => Date.now(),
    available: () => true,
  };
  const fallback = new FallbackSends(deps);
  fallback.subscribe(subs);
  const seen: string[] = [];
  subs.on('pii-test', 'message.failed', async (e) => void seen.push(e.payload.error));

  const tg = await recordInbound(storage, inbound('telegram', `tg-${randomBytes(3).toString('hex')}`, 'hello'), { reopenWindowMs: 0 });
  const conv = tg.conversation.id;
  // A proactive send on the customer's only channel, refused for good by the platform.
  const { send } = await fallback.send({ key: `k-${randomBytes(3).toString('hex')}`, customerId: tg.customer.id, kind: 'api', content: { text: S.proactive }, channels: ['telegram'] });
  const refusing = { capabilities: { maxTextLength: 4096 }, send: async () => { throw new HubError('PLATFORM_REFUSED', `Bad Request: ${S.failed}`, { retry: 'final' }); } } as unknown as ChannelAdapter;
  const out: OutboundDeps = { ...deps, adapter: () => refusing, metrics: { failures: { inc: () => undefined } } as unknown as HubMetrics, log: silent };
  const outcome = await processOutbound(out, { messageId: send.messageId ?? '' });
  assert.equal(outcome.status, 'failed');
  assert.deepEqual(seen, [`Bad Request: ${S.failed}`], 'the subscriber reads the error in plaintext');
  // An agent's note, and an identity found unreachable (its event).
  await new AgentActions(deps).note(conv, { id: 'U1', name: 'Agent One' }, S.note, 'note-1');
  await storage.transaction((tx) => tx.events.append(conv, tg.customer.id, [{ type: 'identity.unreachable', actor: 'system', payload: { identityId: 'i1', channel: 'telegram', reason: S.unreachable } }], () => false));
  // A desk case with its snapshot.
  const desk = await storage.deskCases.claim('slack', `esc-${conv}`, conv, 'w1', 0);
  await storage.deskCases.saveSnapshot(desk.case.id, { customer: { name: S.deskName }, last: [S.deskText] });
  // Webhook deliveries: one delivered (byte for byte as signed), one refused.
  const noteEvent = (await storage.events.ofConversation(conv)).find((e) => e.type === 'note.added')!;
  const body = JSON.stringify({ id: noteEvent.id, type: 'note.added', data: { text: `${S.webhook} 上海 🚚` } });
  const ep = (name: string): WebhookEndpoint => ({ name, url: rx.url, secret: rx.secret, timeoutMs: 5000, types: ['note.added'] });
  const wdeps = (name: string) => ({ storage, log: silent, endpoint: () => ep(name), backoffMs: 1000, now: () => Date.now() });
  const ok = await storage.webhookDeliveries.record({ endpoint: 'ok', eventId: noteEvent.id, eventType: 'note.added', conversationId: conv, body });
  const bad = await storage.webhookDeliveries.record({ endpoint: 'bad', eventId: noteEvent.id, eventType: 'note.added', conversationId: conv, body });
  rx.answer = () => ({ status: 200 });
  await deliverStep(wdeps('ok'), ok.delivery.id);
  rx.answer = () => ({ status: 400, body: S.refusal });
  await deliverStep(wdeps('bad'), bad.delivery.id);
  // A pending answer, and an audit entry with a reason.
  const pending = await storage.pendingAnswers.propose({ key: `p-${conv}`, question: S.question, answer: S.answer, locale: 'en', conversationId: conv, proposedBy: 'slack:U1' });
  await storage.audit.append({ actor: { kind: 'agent', name: 'slack:U1' }, action: 'merge', customerId: tg.customer.id, reason: S.reason });
  return { tg, conv, send, desk: desk.case, ok: ok.delivery, bad: bad.delivery, body, pending: pending.answer };
}

type Written = Awaited<ReturnType<typeof writeAll>>;

/** Every text reads back as written through the repositories. */
async function readsBack(storage: Storage, w: Written): Promise<void> {
  const send = await storage.proactiveSends.get(w.send.id);
  assert.equal(send?.content.text, S.proactive);
  assert.equal(send?.status, 'failed');
  assert.equal(send?.attempts[0]?.error, `PLATFORM_REFUSED: Bad Request: ${S.failed}`);
  assert.equal((await storage.messages.get(w.send.messageId ?? ''))?.error, `PLATFORM_REFUSED: Bad Request: ${S.failed}`);
  const events = await storage.events.ofConversation(w.conv);
  const failed = events.find((e) => e.type === 'message.failed');
  assert.equal(readEvent('message.failed', failed!).payload.error, `Bad Request: ${S.failed}`);
  assert.equal(readEvent('note.added', events.find((e) => e.type === 'note.added')!).payload.text, S.note);
  assert.equal(readEvent('identity.unreachable', events.find((e) => e.type === 'identity.unreachable')!).payload.reason, S.unreachable);
  assert.deepEqual((await storage.deskCases.get('slack', `esc-${w.conv}`))?.snapshot, { customer: { name: S.deskName }, last: [S.deskText] });
  assert.equal((await storage.webhookDeliveries.get(w.ok.id))?.body, w.body);
  assert.equal((await storage.webhookDeliveries.get(w.bad.id))?.lastError?.includes(S.refusal), true);
  const p = await storage.pendingAnswers.get(w.pending.id);
  assert.deepEqual([p?.question, p?.answer], [S.question, S.answer]);
  assert.equal((await storage.audit.list({ customerId: w.tg.customer.id, limit: 5 }))[0]?.reason, S.reason);
  // The export shows the data, not ciphertext.
  const exported = JSON.stringify(await storage.privacy.collect(w.tg.customer.id));
  for (const s of [S.proactive, S.failed, S.note, S.unreachable, S.deskName, S.question, S.answer]) assert.ok(exported.includes(s), `the export shows "${s}"`);
}

function leaks(raw: string): string[] {
  return Object.values(S).filter((s) => raw.includes(s));
}

for (const dialect of DIALECTS) {
  describe(`identity: more PII encrypted at rest (${dialect})`, () => {
    let tdb: TestDb;
    let storage: Storage;
    let rx: Receiver;
    let w: Written;
    before(async () => {
      rx = await startReceiver();
      tdb = await makeDb(dialect);
      storage = await Storage.open(tdb.url, { pii: codec([['k1', K1]]) });
      w = await writeAll(storage, rx);
    });
    after(async () => {
      await storage.close();
      await tdb.drop();
      await rx.close();
    });

    it('reads back what was written; the webhook body is POSTed byte for byte as signed', async () => {
      await readsBack(storage, w);
      const got = rx.requests.filter((r) => r.status === 200);
      assert.equal(got.length, 1);
      assert.equal(got[0]?.raw, w.body);
      assert.equal(got[0]?.verified, true, 'the signature checks on the body received');
    });

    it('the raw database holds none of the texts; the same writes without a codec show each of them', async () => {
      const raw = await rawText(tdb, dialect);
      assert.ok(raw.includes('pii1:k1:'), 'the check reads the stored values');
      assert.deepEqual(leaks(raw), []);
      const plainDb = await makeDb(dialect);
      const plain = await Storage.open(plainDb.url);
      try {
        await writeAll(plain, rx);
        assert.deepEqual(leaks(await rawText(plainDb, dialect)), Object.values(S), 'plaintext storage shows every text (the check can fail)');
      } finally {
        await plain.close();
        await plainDb.drop();
      }
    });

    it('kb pending reads the questions with the hub keys, and names the variable without them', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'pii-more-'));
      try {
        const hubYaml = join(dir, 'hub.yaml');
        await writeFile(hubYaml, `dataDir: ${join(dir, 'data')}\nstorage:\n  url: ${tdb.url}\nbot:\n  knowledgeDir: ${dir}\n`);
        const listed = await kbPending([], { configFile: hubYaml, env: envOf([['k1', K1]]) });
        assert.ok(listed.includes(`Q: ${S.question}`) && listed.includes(`A: ${S.answer}`), listed);
        await assert.rejects(kbPending([], { configFile: hubYaml, env: {} }), /pending_answers\.question.*SWITCHBOARD_PII_KEYS/);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('rotation re-seals every one of them under the new key, once', async () => {
      await storage.close();
      storage = await Storage.open(tdb.url, { pii: codec([['k2', K2], ['k1', K1]]) });
      const stale = await storage.pii.stale();
      for (const c of ['proactive_sends.content', 'proactive_sends.attempts', 'messages.error', 'conversation_events.payload', 'desk_cases.snapshot', 'webhook_deliveries.body', 'webhook_deliveries.last_error', 'pending_answers.question', 'pending_answers.answer', 'audit_log.reason']) {
        assert.ok((stale[c] ?? 0) > 0, `${c} is stale under k2: ${JSON.stringify(stale)}`);
      }
      assert.equal(stale['conversation_events.payload'], 3, 'the failure, the note and the unreachable identity; no other event');
      const r = await storage.pii.rotate({ batch: 2 });
      assert.deepEqual(r.resealed, stale);
      assert.deepEqual(await storage.pii.stale(), {});
      assert.deepEqual((await storage.pii.rotate()).resealed, {}, 'idempotent');
      await storage.close();
      storage = await Storage.open(tdb.url, { pii: codec([['k2', K2]]) });
      await readsBack(storage, w);
      assert.deepEqual(leaks(await rawText(tdb, dialect)), []);
    });
  });

  describe(`identity: more PII rows from before encryption (${dialect})`, () => {
    it('read as plaintext under a codec, and sealed by rotate', async () => {
      const rx = await startReceiver();
      const tdb = await makeDb(dialect);
      try {
        const plain = await Storage.open(tdb.url);
        const w = await writeAll(plain, rx);
        await plain.close();
        const enc = await Storage.open(tdb.url, { pii: codec([['k1', K1]]) });
        try {
          await readsBack(enc, w);
          assert.equal(leaks(await rawText(tdb, dialect)).length, Object.values(S).length, 'old rows stay plaintext until rotate');
          await enc.pii.rotate();
          assert.deepEqual(leaks(await rawText(tdb, dialect)), []);
          await readsBack(enc, w);
        } finally {
          await enc.close();
        }
      } finally {
        await tdb.drop();
        await rx.close();
      }
    });
  });
}
