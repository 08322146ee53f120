import { HubError } from '../../core/errors.js';

/** A send that has not ended after this long no longer holds the others back. */
export const SEND_STUCK_MS = 30_000;

interface Flight {
  readonly done: Promise<void>;
  readonly end: () => void;
  readonly started: number;
}

/** Time source of the pacer; tests inject a virtual one. */
export interface PacingClock {
  now(): number;
  /** Resolves after `ms`; rejects when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realPacingClock: PacingClock = {
  now: () => Date.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
        return;
      }
      const onAbort = () => {
        clearTimeout(t);
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      };
      const t = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, Math.max(0, ms));
      signal?.addEventListener('abort', onAbort, { once: true });
    }),
};

export interface PacingOptions {
  /** Least time between two sends to the same conversation. */
  minIntervalMs: number;
  /** Random extra time (0..jitterMs) added to each per-conversation interval. */
  jitterMs: number;
  /** Sends per minute over the whole account, evenly spaced (60 000 / n ms apart). */
  globalPerMinute: number;
  /**
   * Longest a send waits in memory for its slot. A later slot is not reserved: `acquire` throws
   * HubError('PLATFORM_RATE_LIMITED', retry 'delay') so the job goes back to the queue (delayed, no
   * attempt spent) instead of holding a worker and slowing down shutdown.
   */
  maxWaitMs: number;
}

export interface PacingSlot {
  /** Epoch ms of the reserved send time. */
  readonly at: number;
  /**
   * Resolves at the slot, once no other send is in flight; rejects with the abort reason when
   * `signal` aborts. The caller sends, then calls `sent()`.
   */
  wait(signal?: AbortSignal): Promise<void>;
  /**
   * Ends the send started after `wait`: the next send's gaps count from now, when the platform has
   * the message, so a slow send cannot squeeze the next one against it. Also on failure.
   */
  sent(): void;
  /**
   * Gives an unused slot back (the send failed before it), so failures do not push others back; on
   * a slot already waited for, it is `sent()`.
   */
  cancel(): void;
}

/**
 * Outbound pacing so the account does not look like a bot: a minimum interval with jitter per
 * conversation and an even global rate. Slots are reserved synchronously in call order, so concurrent
 * senders never share a slot; a send waits for its slot (queued, never dropped).
 */
export class Pacer {
  private readonly nextPerChat = new Map<string, number>();
  /** Reserved global send times, ascending. */
  private reserved: number[] = [];
  /** Actual send times (after waking), which late timers could otherwise squeeze together. */
  private lastSend = Number.NEGATIVE_INFINITY;
  private readonly lastSendPerChat = new Map<string, number>();
  /** The send between a slot's `wait` and its `sent`: one at a time over the account. */
  private inFlight: Flight | undefined;
  readonly globalGapMs: number;

  constructor(
    private readonly opts: PacingOptions,
    private readonly clock: PacingClock,
    private readonly random: () => number = Math.random,
  ) {
    this.globalGapMs = opts.globalPerMinute > 0 ? 60_000 / opts.globalPerMinute : 0;
  }

  /**
   * Reserves the earliest slot for `chatId` and waits for it. Throws the delay error described on
   * `maxWaitMs` when that slot is too far away, and rethrows the abort reason when `signal` aborts.
   */
  async acquire(chatId: string, signal?: AbortSignal): Promise<void> {
    const [slot] = this.reserve(chatId, 1);
    await slot?.wait(signal);
    slot?.sent();
  }

  /**
   * Reserves `n` consecutive slots for `chatId` synchronously, so the parts of one reply keep their
   * order and concurrent callers are served in call order. Only the first slot is held to
   * `maxWaitMs` (a long reply must still be sendable).
   */
  reserve(chatId: string, n: number): PacingSlot[] {
    const now = this.clock.now();
    const slots: PacingSlot[] = [];
    for (let i = 0; i < n; i++) {
      const at = this.earliest(chatId, now);
      const wait = at - now;
      if (i === 0 && wait > this.opts.maxWaitMs) {
        throw new HubError('PLATFORM_RATE_LIMITED', `wechat pacing: next free send slot is in ${Math.ceil(wait / 1000)} s, re-queued`, {
          retry: 'delay',
          retryAfterMs: Math.ceil(wait),
          context: { chatId },
        });
      }
      const prevNext = this.nextPerChat.get(chatId);
      const next = this.take(chatId, at);
      let settled = false;
      let end: (() => void) | undefined;
      const sent = () => {
        end?.();
        end = undefined;
      };
      slots.push({
        at,
        wait: async (signal) => {
          settled = true;
          end = await this.waitUntil(chatId, at, signal);
        },
        sent,
        cancel: () => {
          sent();
          if (settled) return;
          settled = true;
          const i = this.reserved.indexOf(at);
          if (i !== -1) this.reserved.splice(i, 1);
          if (this.nextPerChat.get(chatId) === next) {
            if (prevNext === undefined) this.nextPerChat.delete(chatId);
            else this.nextPerChat.set(chatId, prevNext);
          }
        },
      });
    }
    return slots;
  }

  /**
   * Waits for the reserved time and for the send in flight to end, then checks the actual spacing
   * (a timer that fired late, or a slow send, must not squeeze the next send against it) and
   * starts the send. The check-and-start runs without an await in between, so it is atomic. Returns
   * the function that ends the send (recording its time).
   */
  private async waitUntil(chatId: string, at: number, signal?: AbortSignal): Promise<() => void> {
    for (;;) {
      signal?.throwIfAborted();
      if (this.inFlight) {
        await this.waitInFlight(this.inFlight, signal);
        continue;
      }
      const now = this.clock.now();
      const ready = Math.max(at, this.lastSend + this.globalGapMs, (this.lastSendPerChat.get(chatId) ?? Number.NEGATIVE_INFINITY) + this.opts.minIntervalMs);
      if (ready <= now) {
        let end!: () => void;
        const done = new Promise<void>((resolve) => (end = resolve));
        const flight: Flight = { done, end, started: now };
        this.inFlight = flight;
        this.lastSend = now;
        this.lastSendPerChat.set(chatId, now);
        return () => this.land(flight, chatId);
      }
      await this.clock.sleep(ready - now, signal);
    }
  }

  /**
   * Waits for the send in flight to end. A send that hangs past SEND_STUCK_MS is taken as ended, so
   * one stuck hand-off does not hold every other reply (its own job still times out on its own).
   */
  private async waitInFlight(flight: Flight, signal?: AbortSignal): Promise<void> {
    const timer = new AbortController();
    const onAbort = () => timer.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const stuck = this.clock.sleep(flight.started + SEND_STUCK_MS - this.clock.now(), timer.signal).then(
      () => this.land(flight),
      () => undefined,
    );
    try {
      await Promise.race([flight.done, stuck]);
      signal?.throwIfAborted();
    } finally {
      signal?.removeEventListener('abort', onAbort);
      timer.abort();
    }
  }

  /** Ends `flight` (once): the gaps count from now, for the account and for `chatId` when given. */
  private land(flight: Flight, chatId?: string): void {
    if (this.inFlight !== flight) return;
    const t = this.clock.now();
    this.lastSend = Math.max(this.lastSend, t);
    if (chatId !== undefined) this.lastSendPerChat.set(chatId, Math.max(this.lastSendPerChat.get(chatId) ?? t, t));
    this.inFlight = undefined;
    flight.end();
  }

  /** Pending reservations (for tests and diagnostics). */
  get backlog(): number {
    const now = this.clock.now();
    return this.reserved.filter((t) => t > now).length;
  }

  private earliest(chatId: string, now: number): number {
    this.prune(now);
    let t = Math.max(now, this.nextPerChat.get(chatId) ?? 0);
    const gap = this.globalGapMs;
    if (gap <= 0) return t;
    for (const r of this.reserved) {
      if (r + gap <= t) continue; // well before t
      if (r >= t + gap) break; // t fits before r
      t = r + gap; // collides: move after r and keep scanning
    }
    return t;
  }

  private take(chatId: string, at: number): number {
    const jitter = this.opts.jitterMs > 0 ? Math.floor(this.random() * (this.opts.jitterMs + 1)) : 0;
    const next = at + this.opts.minIntervalMs + jitter;
    this.nextPerChat.set(chatId, next);
    const i = this.reserved.findIndex((r) => r > at);
    if (i === -1) this.reserved.push(at);
    else this.reserved.splice(i, 0, at);
    return next;
  }

  private prune(now: number): void {
    const horizon = now - this.globalGapMs;
    let drop = 0;
    while (drop < this.reserved.length && (this.reserved[drop] ?? 0) < horizon) drop++;
    if (drop > 0) this.reserved = this.reserved.slice(drop);
    if (this.nextPerChat.size > 1000) {
      for (const [k, v] of this.nextPerChat) if (v <= now) this.nextPerChat.delete(k);
    }
    if (this.lastSendPerChat.size > 1000) {
      for (const [k, v] of this.lastSendPerChat) if (v + this.opts.minIntervalMs <= now) this.lastSendPerChat.delete(k);
    }
  }
}
