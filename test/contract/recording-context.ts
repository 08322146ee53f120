import { pino } from 'pino';
import type { AcceptResult, AdapterContext, Bus, ChannelState, HttpHandler, UpgradeHandler } from '../../src/core/adapter.js';
import { Storage } from '../../src/core/storage/storage.js';
import { sqliteDb } from '../helpers/env.js';
import { validateInbound } from '../../src/core/pipeline/validate.js';
import type { InboundMessage } from '../../src/core/types.js';
import { Router } from '../../src/http/router.js';

/** Pending accept calls wait on this until the test releases or fails them (a slow or failing Redis). */
export interface AcceptHold {
  /** The waiting calls (and later ones) go on normally. */
  release(): void;
  /** The waiting calls reject with `err`; later ones go on normally unless `failAccept` is set. */
  fail(err: Error): void;
}

/** A context that records what an adapter hands to the hub, for adapter tests without a hub. */
export class RecordingContext implements AdapterContext {
  readonly accepted: InboundMessage[] = [];
  readonly router = new Router();
  readonly log = pino({ level: process.env.TEST_LOG ? 'debug' : 'silent' });
  /** Calls of `accept`, including pending and failed ones. */
  acceptCalls = 0;
  /** Make accept fail (e.g. Redis away) to test that the platform is not acknowledged. */
  failAccept: Error | undefined;
  /** Decides per publish whether the bus fails it (the returned error) or delivers it (undefined). */
  failPublish: ((topic: string, payload: string) => Error | undefined) | undefined;
  private readonly topics = new Map<string, Set<(p: string) => void>>();
  private waiters: (() => void)[] = [];
  private hold: Promise<void> | undefined;

  readonly http = {
    route: (method: string, path: string, h: HttpHandler) => this.router.route(method, path, h),
    upgrade: (path: string, h: UpgradeHandler) => this.router.upgrade(path, h),
  };

  readonly bus: Bus = {
    publish: async (topic, payload) => {
      const err = this.failPublish?.(topic, payload);
      if (err) throw err;
      for (const h of this.topics.get(topic) ?? []) h(payload);
    },
    subscribe: async (topic, handler) => {
      const s = this.topics.get(topic) ?? new Set();
      s.add(handler);
      this.topics.set(topic, s);
      return async () => void s.delete(handler);
    },
  };

  private storage: Promise<Storage> | undefined;

  /** The channel state store on a real (SQLite, temp file) storage, opened on first use. */
  state(channel: string): ChannelState {
    const storage = () => (this.storage ??= Storage.open(sqliteDb().url));
    return {
      get: async (key) => (await storage()).channelState.get(channel, key),
      set: async (key, value, v) => (await storage()).channelState.set(channel, key, value, v),
      delete: async (key) => (await storage()).channelState.delete(channel, key),
    };
  }

  /** Closes the storage behind `state`, when it was opened. */
  async close(): Promise<void> {
    if (this.storage) await (await this.storage).close();
  }

  async accept(m: InboundMessage): Promise<AcceptResult> {
    this.acceptCalls++;
    if (this.hold) await this.hold;
    if (this.failAccept) throw this.failAccept;
    const clean = validateInbound(m);
    this.accepted.push(clean);
    for (const w of this.waiters.splice(0)) w();
    return { jobId: `${m.channel}~${m.platformMessageId}` };
  }

  /** From now on accept waits until the returned hold is released or failed. */
  holdAccepts(): AcceptHold {
    let release = (): void => undefined;
    let fail = (_err: Error): void => undefined;
    const held = new Promise<void>((resolve, reject) => {
      release = resolve;
      fail = reject;
    });
    held.catch(() => undefined); // rejected with nobody waiting: not an unhandled rejection
    this.hold = held;
    const end = () => {
      if (this.hold === held) this.hold = undefined;
    };
    return {
      release: () => {
        end();
        release();
      },
      fail: (err) => {
        end();
        fail(err);
      },
    };
  }

  /** No conversation is ever with a person here. */
  async withPerson(): Promise<boolean> {
    return false;
  }

  async history(): Promise<[]> {
    return [];
  }

  async waitForAccepted(n: number, timeoutMs = 5000): Promise<InboundMessage[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.accepted.length < n) {
      if (Date.now() > deadline) throw new Error(`expected ${n} accepted messages, got ${this.accepted.length}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.accepted;
  }
}

/** Polls `fn` until it returns something other than undefined or false (rejects after `timeoutMs`). */
export async function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
