import type { StoredMessage } from '../model.js';
import type { HubQueues } from '../queues/hub-queues.js';
import { errorMessage, isHubError } from '../errors.js';
import { processOutbound, type OutboundDeps } from './outbound.js';

export interface DirectSendDeps {
  /** The send itself (`processOutbound`'s dependencies); read when a send starts. */
  outbound: () => OutboundDeps;
  queues: HubQueues;
  /** Direct sends per channel at once; past it a reply takes the queue. */
  limit: number;
  /**
   * The sweep's age for a pending row (`sweepAfterMs`): a send still running after a third of it
   * holds a claim in Redis that the sweep respects, renewed while it runs.
   */
  sweepAfterMs: number;
  /** The queue's first retry delay, for a reply handed to the queue after a failed try. */
  backoffMs: number;
  /** The storage's clock (rows' `createdAt`). */
  now(): number;
  /**
   * false: this process sends nothing directly (a gateway) but still leaves alone the replies the
   * worker processes may be sending (`mayHold`).
   */
  takes: boolean;
}

/**
 * Replies sent by the process that decided them, right after the commit, instead of through the
 * channel's send queue (two Redis scripts, a job hash and a worker's fetch fewer per reply, and no
 * wait behind other sends). The outbound row committed as pending is what makes a reply durable;
 * the queue still takes every reply this cannot send now or at all: a channel whose sends need its
 * connection (the lease holder sends), every direct slot of the channel busy, a try that failed (the
 * job then retries with backoff), an earlier reply of the conversation still pending (order), or a
 * stopping hub. A process that dies mid-send leaves the row pending: the sweep queues it once it is
 * `sweepAfterMs` old, unless a live send still claims it.
 */
export class DirectSends {
  /** Sends in progress per channel, direct ones and queue jobs' (`slot`): together at most `limit`. */
  private readonly running = new Map<string, number>();
  /** Queue jobs waiting for a slot, per channel. */
  private readonly waiting = new Map<string, (() => void)[]>();
  private readonly tasks = new Set<Promise<void>>();
  private closed = false;
  private deps: OutboundDeps | undefined;

  constructor(private readonly d: DirectSendDeps) {}

  private get outbound(): OutboundDeps {
    return (this.deps ??= this.d.outbound());
  }

  /**
   * Starts sending `rows` (one change's replies, in their order) and returns true, or returns false
   * when they must take the queue.
   */
  take(rows: readonly StoredMessage[], since?: number): boolean {
    const channel = rows[0]?.channel;
    if (!this.d.takes || this.closed || channel === undefined || rows.some((r) => r.channel !== channel) || !this.eligible(channel)) return false;
    // A queue job waiting for a slot goes first.
    if ((this.running.get(channel) ?? 0) >= this.d.limit || this.waiting.get(channel)?.length) return false;
    this.running.set(channel, (this.running.get(channel) ?? 0) + 1);
    const task = this.send(rows, since).finally(() => {
      this.free(channel);
      this.tasks.delete(task);
    });
    this.tasks.add(task);
    return true;
  }

  /**
   * true while a direct send may still be working on `row` somewhere (its channel takes direct sends
   * and the row is younger than the sweep's age): who finds it pending then must not queue it (the
   * job could send it a second time); the sweep queues it later if nobody sent it.
   */
  mayHold(row: StoredMessage): boolean {
    return row.deliveryStatus === 'pending' && this.eligible(row.channel) && this.d.now() - row.createdAt < this.d.sweepAfterMs;
  }

  /** A queue job's send: runs `send` once its channel has a free slot (shared with direct sends). */
  async slot<T>(channel: string, send: () => Promise<T>): Promise<T> {
    while ((this.running.get(channel) ?? 0) >= this.d.limit) {
      const queue = this.waiting.get(channel) ?? [];
      this.waiting.set(channel, queue);
      await new Promise<void>((resolve) => queue.push(resolve));
    }
    this.running.set(channel, (this.running.get(channel) ?? 0) + 1);
    try {
      return await send();
    } finally {
      this.free(channel);
    }
  }

  private free(channel: string): void {
    this.running.set(channel, (this.running.get(channel) ?? 1) - 1);
    this.waiting.get(channel)?.shift()?.();
  }

  private eligible(channel: string): boolean {
    const adapter = this.outbound.adapter(channel);
    return adapter !== undefined && !adapter.sendNeedsConnection;
  }

  /** Takes no more; waits up to `graceMs` for the sends in progress (those cut off stay pending for the sweep). */
  async close(graceMs: number): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((r) => (timer = setTimeout(r, graceMs)));
    await Promise.race([Promise.all([...this.tasks]), grace]);
    clearTimeout(timer);
  }

  private async send(rows: readonly StoredMessage[], since: number | undefined): Promise<void> {
    const deps = this.outbound;
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i] as StoredMessage;
      const started = Date.now();
      try {
        await this.claimed(row.id, () => processOutbound(deps, since === undefined ? { messageId: row.id } : { messageId: row.id, since }));
      } catch (err) {
        const e = isHubError(err) ? err : undefined;
        if (e?.code !== 'WAITING') deps.metrics.failures.inc({ stage: 'direct-send', code: e?.code ?? 'INTERNAL' });
        if (e?.retry === 'final') {
          deps.log.warn({ messageId: row.id, code: e.code }, `direct send dropped: ${e.message}`);
          continue;
        }
        // The queue takes this reply and the ones after it (they wait for it there).
        const delayMs = e?.retry === 'delay' ? (e.retryAfterMs ?? 1000) : this.d.backoffMs;
        await this.queue(deps, rows.slice(i), delayMs, since);
        return;
      } finally {
        deps.metrics.jobRun.observe({ stage: 'direct-send' }, (Date.now() - started) / 1000);
      }
    }
  }

  private async queue(deps: OutboundDeps, rows: readonly StoredMessage[], delayMs: number, since: number | undefined): Promise<void> {
    try {
      for (const r of rows) await this.d.queues.addOutbound(r.channel, r.id, since, delayMs);
    } catch (err) {
      deps.log.warn({ messageIds: rows.map((r) => r.id) }, `queueing replies after a direct send failed; the sweep will: ${errorMessage(err)}`);
    }
  }

  /**
   * Runs `send` under a claim the sweep respects once it runs longer than a third of `sweepAfterMs`
   * (the row alone keeps the sweep away until then); the claim is renewed while it runs and dropped after.
   */
  private async claimed<T>(id: string, send: () => Promise<T>): Promise<T> {
    const every = Math.max(100, Math.floor(this.d.sweepAfterMs / 3));
    let claimed = false;
    const renew = () => {
      claimed = true;
      void this.d.queues.claimSend(id, this.d.sweepAfterMs).catch(() => undefined);
    };
    let timer: NodeJS.Timeout | undefined = setTimeout(function tick() {
      renew();
      timer = setTimeout(tick, every);
    }, every);
    try {
      return await send();
    } finally {
      clearTimeout(timer);
      if (claimed) void this.d.queues.releaseSendClaim(id).catch(() => undefined);
    }
  }
}
