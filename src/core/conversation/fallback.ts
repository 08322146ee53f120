import type { EventSubscriptions, NewEvent, ProactiveKind, StoredEvent } from '../events.js';
import type { Conversation, Customer, Identity, ProactiveSend, SendAttempt, StoredMessage } from '../model.js';
import type { Storage } from '../storage/storage.js';
import type { ChannelName, ConversationRef } from '../types.js';
import { HubError } from '../errors.js';
import { isUniqueViolation } from '../storage/rows.js';
import { afterCommit, requeuePending } from './change.js';
import { proactiveOutbound, queuedEvent, storeProactive, type ProactiveContent, type ProactiveDeps } from './proactive.js';

export interface FallbackRequest {
  customerId: string;
  content: ProactiveContent;
  /** Channels to try, in order (default: the preferred channel, then the most recently used ones). */
  channels?: readonly ChannelName[];
  kind: ProactiveKind;
  /** Idempotency key: the same key twice stores and sends once. */
  key: string;
  /** A hash of the caller's request, stored so a reused key can be told apart from a retry. */
  requestHash?: string;
}

export interface FallbackResult {
  send: ProactiveSend;
  /** true when `key` had been used before (nothing new was stored). */
  duplicate: boolean;
}

/** The subscriber name of the fallback (its receipts in the events outbox). */
export const FALLBACK_SUBSCRIBER = 'proactive-fallback';

/**
 * The channels to try for a customer: `requested` as given, else the preferred channel, then the
 * channels by last use, then any other identity's; each once.
 */
export async function channelOrder(storage: Storage, customer: Customer, identities: readonly Identity[], requested?: readonly ChannelName[]): Promise<ChannelName[]> {
  if (requested?.length) return [...new Set(requested)];
  return orderOf(customer, identities, await storage.customers.lastSeenByChannel(customer.id));
}

/** `channelOrder` with the customer's channels by last use read already. */
function orderOf(customer: Customer, identities: readonly Identity[], seen: readonly { channel: ChannelName }[], requested?: readonly ChannelName[]): ChannelName[] {
  if (requested?.length) return [...new Set(requested)];
  return [...new Set([...(customer.preferredChannel ? [customer.preferredChannel] : []), ...seen.map((s) => s.channel), ...identities.map((i) => i.channel)])];
}

/**
 * Proactive sends that fall back across channels (the API's `POST /api/messages`): channels are
 * tried in order; one without a usable identity is recorded as skipped (with why), the first usable
 * one gets the message. When that send fails for good (`message.failed`: blocked, invalid address),
 * this class's subscriber queues the next channel. `attempts[i]` is always about `channels[i]`, and
 * attempt i's outbound row is keyed `proactive:<key>@<i>`, so a redelivered event or a retried call
 * never stores a second message for one attempt.
 *
 * The send's row (`proactive_sends`) is written with the first outbound row and its event in one
 * transaction, and each fallback step with its outbound row, so a crash never leaves a send that
 * nobody advances. Whether the message in flight was delivered is read from its row (`status`):
 * subscribing to `message.sent` would cost a transaction per send hub-wide.
 */
export class FallbackSends {
  constructor(private readonly d: ProactiveDeps & { now(): number }) {}

  async send(req: FallbackRequest): Promise<FallbackResult> {
    const { storage } = this.d;
    const existing = await storage.proactiveSends.byKey(req.key);
    if (existing) return { send: await this.requeue(existing), duplicate: true };
    const customer = await storage.customers.get(req.customerId);
    if (!customer) throw new HubError('NOT_FOUND', `customer ${req.customerId} not found`);
    const identities = await storage.customers.identitiesOf(customer.id);
    const channels = await channelOrder(storage, customer, identities, req.channels);
    const step = this.next(channels, [], identities);
    if (!step.target) {
      const reasons = step.attempts.map((a) => `${a.channel}: ${a.error ?? a.status}`).join('; ') || 'the customer has no identity';
      throw new HubError('RECIPIENT_UNREACHABLE', `customer ${customer.id} has no reachable identity on the channels tried (${reasons})`, {
        retry: 'final',
        context: { customerId: customer.id, attempts: step.attempts },
      });
    }
    const target = step.target;
    let stored: { send: ProactiveSend; events: StoredEvent[]; row: Awaited<ReturnType<typeof storeProactive>>['row'] };
    try {
      stored = await storage.transaction(async (tx) => {
        const s = await storeProactive(this.d, tx, { customerId: customer.id, ref: target.ref, content: req.content, dedupeKey: attemptKey(req.key, target.index), kind: req.kind, key: req.key });
        const send = await tx.proactiveSends.insert({
          key: req.key,
          customerId: customer.id,
          kind: req.kind,
          content: req.content,
          channels,
          attempts: [...step.attempts, { channel: target.ref.channel, status: 'queued', at: this.d.now(), messageId: s.row.id }],
          status: 'queued',
          messageId: s.row.id,
          requestHash: req.requestHash,
        });
        return { send, events: s.events, row: s.row };
      });
    } catch (err) {
      // A concurrent call with the same key won.
      const again = isUniqueViolation(err) ? await storage.proactiveSends.byKey(req.key) : undefined;
      if (again) return { send: again, duplicate: true };
      throw err;
    }
    await afterCommit(this.d, [stored.row], stored.events);
    return { send: stored.send, duplicate: false };
  }

  /**
   * `send` of many requests at once (the workflow engine's step batches): one read of each kind for
   * all of them (`customers`: those the caller has read already) and one transaction of multi-row
   * writes, then one enqueue per channel. Each request settles as `send` would settle it: a request
   * whose key was used already, whose customer is gone or unreachable, or whose key repeats in the
   * call, goes through `send` itself; so do all of them should the bulk write meet a key taken
   * meanwhile (a concurrent call), each then finding its own.
   */
  async sendMany(reqs: readonly FallbackRequest[], customers: ReadonlyMap<string, Customer> = new Map()): Promise<PromiseSettledResult<FallbackResult>[]> {
    const { storage } = this.d;
    const known = new Map(customers);
    for (const c of await storage.customers.getMany([...new Set(reqs.map((r) => r.customerId).filter((id) => !known.has(id)))])) known.set(c.id, c);
    const taken = new Set((await storage.proactiveSends.byKeys(reqs.map((r) => r.key))).map((s) => s.key));
    const ids = [...new Set(reqs.map((r) => r.customerId))];
    const [identities, seen] = await Promise.all([
      storage.customers.identitiesOfMany(ids),
      storage.customers.lastSeenByChannelMany([...new Set(reqs.filter((r) => !r.channels?.length).map((r) => r.customerId))]),
    ]);
    // Settled as they come (a request on its own may fail before the bulk write is done).
    const results: Promise<PromiseSettledResult<FallbackResult>>[] = [];
    const settle = (p: Promise<FallbackResult>) => results.push(p.then((value) => ({ status: 'fulfilled', value }) as const, (reason: unknown) => ({ status: 'rejected', reason }) as const));
    const bulk: { req: FallbackRequest; at: number; channels: ChannelName[]; attempts: SendAttempt[]; index: number; ref: ConversationRef; result?: (r: FallbackResult) => void; fail?: (err: unknown) => void }[] = [];
    const keys = new Set<string>();
    const repeated: { req: FallbackRequest; resolve(r: FallbackResult): void; reject(err: unknown): void }[] = [];
    for (const req of reqs) {
      const customer = known.get(req.customerId);
      const own = identities.get(req.customerId) ?? [];
      const channels = customer ? orderOf(customer, own, seen.get(customer.id) ?? [], req.channels) : [];
      const step = customer ? this.next(channels, [], own) : undefined;
      if (keys.has(req.key)) {
        // After the bulk write: it finds the send stored there.
        settle(new Promise<FallbackResult>((resolve, reject) => repeated.push({ req, resolve, reject })));
        continue;
      }
      if (!customer || !step?.target || taken.has(req.key)) {
        settle(this.send(req));
        continue;
      }
      keys.add(req.key);
      const item = { req, at: this.d.now(), channels, attempts: step.attempts, index: step.target.index, ref: step.target.ref };
      settle(new Promise<FallbackResult>((resolve, reject) => bulk.push(Object.assign(item, { result: resolve, fail: reject }))));
    }
    if (bulk.length > 0) {
      const stored = await this.storeMany(bulk).catch((err: unknown) => {
        if (isUniqueViolation(err)) return undefined;
        for (const b of bulk) b.fail?.(err);
        return null;
      });
      if (stored === undefined) await Promise.all(bulk.map((b) => this.send(b.req).then(b.result, b.fail)));
      else if (stored) {
        try {
          await this.d.queues.addOutboundMany(stored.rows);
          await this.d.dispatcher.dispatch(stored.events);
          bulk.forEach((b, i) => b.result?.({ send: stored.sends[i] as ProactiveSend, duplicate: false }));
        } catch (err) {
          // Stored but not all queued: as with `send`, the caller retries and the key re-queues it.
          for (const b of bulk) b.fail?.(err);
        }
      }
    }
    for (const r of repeated) this.send(r.req).then(r.resolve, r.reject);
    return Promise.all(results);
  }

  /** The bulk write of `sendMany`: each request's outbound row in its open conversation (else a new one), its event and its send. */
  private storeMany(bulk: readonly { req: FallbackRequest; at: number; channels: ChannelName[]; attempts: SendAttempt[]; index: number; ref: ConversationRef }[]) {
    return this.d.storage.transaction(async (tx) => {
      const pairs = bulk.map((b) => ({ customerId: b.req.customerId, channel: b.ref.channel }));
      const open = await tx.conversations.openOnMany(pairs);
      const missing = [...new Map(pairs.filter((p) => !open.has(`${p.customerId} ${p.channel}`)).map((p) => [`${p.customerId} ${p.channel}`, p])).values()];
      for (const c of await tx.conversations.createMany(missing)) open.set(`${c.customerId} ${c.channel}`, c);
      const convOf = (b: (typeof bulk)[number]) => open.get(`${b.req.customerId} ${b.ref.channel}`) as Conversation;
      const rows = await tx.messages.insertOutboundMany(
        bulk.map((b) => proactiveOutbound(convOf(b).id, { customerId: b.req.customerId, ref: b.ref, content: b.req.content, dedupeKey: attemptKey(b.req.key, b.index) })),
      );
      const events: StoredEvent[] = [];
      const quiet: { conversationId: string; customerId: string; event: NewEvent }[] = [];
      for (const [i, b] of bulk.entries()) {
        const row = rows[i] as StoredMessage;
        const event = queuedEvent(row, b.req);
        if (this.d.dispatcher.wanted(event.type, event.payload)) events.push(...(await tx.events.append(row.conversationId, row.customerId, [event], (t, p) => this.d.dispatcher.wanted(t, p))));
        else quiet.push({ conversationId: row.conversationId, customerId: row.customerId, event });
      }
      await tx.events.appendQuiet(quiet);
      const sends = await tx.proactiveSends.insertMany(
        bulk.map((b, i) => {
          const row = rows[i] as StoredMessage;
          return {
            key: b.req.key,
            customerId: b.req.customerId,
            kind: b.req.kind,
            content: b.req.content,
            channels: b.channels,
            attempts: [...b.attempts, { channel: row.channel, status: 'queued' as const, at: b.at, messageId: row.id }],
            status: 'queued' as const,
            messageId: row.id,
            requestHash: b.req.requestHash,
          };
        }),
      );
      return { rows, events, sends };
    });
  }

  /** The send stored under `key` (a repeated request), its message in flight queued again if its job was lost. */
  async byKey(key: string): Promise<ProactiveSend | undefined> {
    const send = await this.d.storage.proactiveSends.byKey(key);
    return send && this.requeue(send);
  }

  /** The send with the delivery of the message in flight read from its row. */
  async get(id: string): Promise<ProactiveSend | undefined> {
    const send = await this.d.storage.proactiveSends.get(id);
    return send && (await this.withDelivery(send));
  }

  /** Registers the fallback: a final failure of the message in flight moves the send on. */
  subscribe(subs: EventSubscriptions): void {
    subs.on(FALLBACK_SUBSCRIBER, 'message.failed', (e) => this.failed(e.payload.messageId, `${e.payload.code}: ${e.payload.error}`, e.at));
  }

  /** Moves a send on after its message in flight failed for good: the next usable channel, or failed. */
  async failed(messageId: string, error: string, at: number): Promise<void> {
    const { storage } = this.d;
    for (let tries = 0; tries < 8; tries++) {
      const send = await storage.proactiveSends.byMessage(messageId);
      if (!send || send.status !== 'queued') return;
      const attempts = send.attempts.map((a): SendAttempt => (a.messageId === messageId ? { ...a, status: 'failed', at, error } : a));
      // The failure already marked the identity unreachable (same transaction as message.failed).
      const identities = await storage.customers.identitiesOf(send.customerId);
      const step = this.next(send.channels, attempts, identities);
      const target = step.target;
      if (!target) {
        if (await storage.proactiveSends.update(send, { attempts: step.attempts, status: 'failed', messageId: null })) return;
        continue;
      }
      const done = await storage.transaction(async (tx) => {
        const s = await storeProactive(this.d, tx, { customerId: send.customerId, ref: target.ref, content: send.content, dedupeKey: attemptKey(send.key, target.index), kind: send.kind as ProactiveKind, key: send.key });
        const next: SendAttempt[] = [...step.attempts, { channel: target.ref.channel, status: 'queued', at: this.d.now(), messageId: s.row.id }];
        if (!(await tx.proactiveSends.update(send, { attempts: next, status: 'queued', messageId: s.row.id }))) throw new Moved();
        return s;
      }).catch((err: unknown) => {
        // Someone else moved the send on first (its version, or this attempt's message key, is taken).
        if (err instanceof Moved || isUniqueViolation(err)) return undefined;
        throw err;
      });
      if (done) {
        await afterCommit(this.d, [done.row], done.events);
        return;
      }
    }
    throw new HubError('VERSION_CONFLICT', `proactive send of message ${messageId} kept changing; will retry`, { retry: 'retry' });
  }

  /**
   * From `attempts.length` on: channels without a usable identity are skipped (with why) until one
   * has one. `attempts` is returned with the skipped ones added.
   */
  private next(channels: readonly ChannelName[], attempts: readonly SendAttempt[], identities: readonly Identity[]): { attempts: SendAttempt[]; target?: { index: number; ref: ConversationRef } } {
    const out = [...attempts];
    for (let i = out.length; i < channels.length; i++) {
      const channel = channels[i] as ChannelName;
      const on = identities.filter((x) => x.channel === channel).sort((a, b) => b.updatedAt - a.updatedAt);
      const usable = on.find((x) => x.unreachableAt === null);
      const why = !this.d.available(channel)
        ? `this hub has no ${channel} channel`
        : !on.length
          ? `the customer has no ${channel} identity`
          : !usable
            ? `unreachable: ${on[0]?.unreachableReason ?? 'marked unreachable'}`
            : undefined;
      if (why || !usable) {
        out.push({ channel, status: 'skipped', at: this.d.now(), error: why ?? 'unreachable' });
        continue;
      }
      return { attempts: out, target: { index: i, ref: usable.lastRef } };
    }
    return { attempts: out };
  }

  /** A repeated key: re-queue the message in flight if it is still pending (its job may be lost). */
  private async requeue(send: ProactiveSend): Promise<ProactiveSend> {
    if (send.status === 'queued' && send.messageId) {
      const m = await this.d.storage.messages.get(send.messageId);
      if (m) await requeuePending(this.d, m);
    }
    return send;
  }

  private async withDelivery(send: ProactiveSend): Promise<ProactiveSend> {
    if (send.status !== 'queued' || !send.messageId) return send;
    const m = await this.d.storage.messages.get(send.messageId);
    if (!m || m.deliveryStatus === 'pending') return send;
    const attempts = send.attempts.map((a): SendAttempt => {
      if (a.messageId !== m.id) return a;
      return m.deliveryStatus === 'sent' ? { ...a, status: 'sent', at: m.sentAt ?? a.at } : { ...a, status: 'failed', ...(m.error ? { error: m.error } : {}) };
    });
    // Failed: the fallback subscriber is about to move on; the send stays queued until it has.
    return { ...send, attempts, status: m.deliveryStatus === 'sent' ? 'sent' : send.status };
  }
}

class Moved extends Error {}

function attemptKey(key: string, index: number): string {
  return `proactive:${key}@${index}`;
}
