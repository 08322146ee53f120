import type { EventSubscriptions, ProactiveKind, StoredEvent } from '../events.js';
import type { Customer, Identity, ProactiveSend, SendAttempt } from '../model.js';
import type { Storage } from '../storage/storage.js';
import type { ChannelName, ConversationRef } from '../types.js';
import { HubError } from '../errors.js';
import { isUniqueViolation } from '../storage/rows.js';
import { afterCommit } from './change.js';
import { storeProactive, type ProactiveContent, type ProactiveDeps } from './proactive.js';

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
  const seen = (await storage.customers.lastSeenByChannel(customer.id)).map((s) => s.channel);
  return [...new Set([...(customer.preferredChannel ? [customer.preferredChannel] : []), ...seen, ...identities.map((i) => i.channel)])];
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
      if (m?.deliveryStatus === 'pending') await this.d.queues.addOutbound(m.channel, m.id);
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
