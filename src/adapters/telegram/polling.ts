import type { Telegram } from 'telegraf';
import type { Logger } from 'pino';
import { errorMessage } from '../../core/errors.js';
import { ALLOWED_UPDATES, updateIdOf } from './update-schema.js';
import { isAbort, scrubToken, toHubError } from './api-errors.js';

export interface PollerOptions {
  telegram: Telegram;
  token: string;
  log: Logger;
  timeoutSec: number;
  /** Hands one update to the hub; rejects when the update must be fetched again (not acknowledged). */
  handle(update: unknown): Promise<void>;
}

/** telegraf types its signal with the `abort-controller` polyfill; node-fetch takes Node's own. */
export type ApiSignal = NonNullable<NonNullable<Parameters<Telegram['callApi']>[2]>['signal']>;
export function apiSignal(signal: AbortSignal): ApiSignal {
  return signal as unknown as ApiSignal;
}

const MIN_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 30_000;

/**
 * A getUpdates long-poll loop that acknowledges an update (moves `offset` past it) only after the
 * hub durably queued it: updates are handled one by one, in order, and a failure retries the same
 * update with backoff instead of skipping it. `stop` aborts the pending poll and confirms the offset.
 */
export class Poller {
  private offset = 0;
  private abort: AbortController | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly o: PollerOptions) {}

  get running(): boolean {
    return this.loop !== undefined;
  }

  start(): void {
    if (this.loop) return;
    const abort = new AbortController();
    this.abort = abort;
    this.loop = this.run(abort.signal).catch((err) =>
      this.o.log.error(`telegram polling stopped unexpectedly: ${scrubToken(errorMessage(err), this.o.token)}`),
    );
  }

  async stop(): Promise<void> {
    const loop = this.loop;
    if (!loop) return;
    this.abort?.abort();
    await loop;
    this.loop = undefined;
    this.abort = undefined;
    if (this.offset > 0) await this.confirmOffset();
  }

  private async run(signal: AbortSignal): Promise<void> {
    let backoff = MIN_BACKOFF_MS;
    while (!signal.aborted) {
      let updates: unknown[];
      try {
        updates = await this.o.telegram.callApi(
          'getUpdates',
          { offset: this.offset, timeout: this.o.timeoutSec, allowed_updates: [...ALLOWED_UPDATES] },
          { signal: apiSignal(signal) },
        );
      } catch (err) {
        if (signal.aborted || isAbort(err)) return;
        const e = toHubError(err, this.o.token, 'getUpdates');
        const wait = e.retryAfterMs ?? (e.code === 'AUTH_FAILED' ? MAX_BACKOFF_MS : backoff);
        this.o.log.warn({ code: e.code }, `telegram getUpdates failed, polling again in ${wait} ms: ${e.message}`);
        await sleep(wait, signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        continue;
      }
      backoff = MIN_BACKOFF_MS;
      for (const update of updates) {
        const id = updateIdOf(update);
        if (!(await this.handleUntilDone(update, signal))) return;
        if (id !== undefined) this.offset = Math.max(this.offset, id + 1);
      }
    }
  }

  /** false when stopped before the update was handed over (it will be fetched again). */
  private async handleUntilDone(update: unknown, signal: AbortSignal): Promise<boolean> {
    let backoff = MIN_BACKOFF_MS;
    for (;;) {
      try {
        await this.o.handle(update);
        return true;
      } catch (err) {
        if (signal.aborted) return false;
        this.o.log.warn(
          { updateId: updateIdOf(update) },
          `telegram update not accepted, retrying in ${backoff} ms: ${errorMessage(err)}`,
        );
        await sleep(backoff, signal);
        if (signal.aborted) return false;
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  /** Tells Telegram which updates were handled, so the next poller does not fetch them again. */
  private async confirmOffset(): Promise<void> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 3000);
    try {
      await this.o.telegram.callApi(
        'getUpdates',
        { offset: this.offset, limit: 1, timeout: 0 },
        { signal: apiSignal(abort.signal) },
      );
    } catch (err) {
      if (!isAbort(err)) this.o.log.debug(`telegram offset confirmation failed (harmless: updates are deduplicated): ${scrubToken(errorMessage(err), this.o.token)}`);
    } finally {
      clearTimeout(timer);
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
