import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Pacer, SEND_STUCK_MS, type PacingClock, type PacingOptions } from '../../src/adapters/wechat/pacing.js';
import { isHubError } from '../../src/core/errors.js';

/** Virtual time: sleeps resolve in time order when `run` advances the clock. */
class VirtualClock implements PacingClock {
  t = 1_000_000;
  private timers: { at: number; seq: number; resolve: () => void }[] = [];
  private seq = 0;
  now(): number {
    return this.t;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.timers.push({ at: this.t + ms, seq: this.seq++, resolve }));
  }
  async run(): Promise<void> {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      if (this.timers.length === 0) return;
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers.shift();
      if (!next) return;
      this.t = Math.max(this.t, next.at);
      next.resolve();
    }
  }
}

const defaults: PacingOptions = { minIntervalMs: 3000, jitterMs: 2000, globalPerMinute: 20, maxWaitMs: Number.POSITIVE_INFINITY };

function checkSpacing(sends: { chat: string; at: number }[], o: PacingOptions): void {
  const byChat = new Map<string, number[]>();
  for (const s of sends) byChat.set(s.chat, [...(byChat.get(s.chat) ?? []), s.at]);
  for (const [chat, times] of byChat) {
    for (let i = 1; i < times.length; i++) {
      const gap = (times[i] ?? 0) - (times[i - 1] ?? 0);
      assert.ok(gap >= o.minIntervalMs, `${chat}: sends ${gap} ms apart, minimum ${o.minIntervalMs}`);
    }
  }
  const all = sends.map((s) => s.at).sort((a, b) => a - b);
  for (let i = 0; i < all.length; i++) {
    const inWindow = all.filter((t) => t >= (all[i] ?? 0) && t < (all[i] ?? 0) + 60_000).length;
    assert.ok(inWindow <= o.globalPerMinute, `${inWindow} sends within one minute, limit ${o.globalPerMinute}`);
  }
}

describe('wechat pacing', () => {
  it('a burst of 50 sends to 5 contacts keeps the per-contact interval and the global rate (defaults)', async () => {
    const clock = new VirtualClock();
    const pacer = new Pacer(defaults, clock);
    const sends: { chat: string; at: number }[] = [];
    const start = clock.now();
    const all = Array.from({ length: 50 }, (_, i) => {
      const chat = `c${i % 5}`;
      return pacer.acquire(chat).then(() => sends.push({ chat, at: clock.now() }));
    });
    await clock.run();
    await Promise.all(all);
    assert.equal(sends.length, 50, 'queued, never dropped');
    checkSpacing(sends, defaults);
    // Evenly spaced at the global rate: 50 sends at 3 s apart take 147 s, not much more.
    const span = Math.max(...sends.map((s) => s.at)) - start;
    assert.ok(span >= 49 * 3000 && span <= 49 * 3000 + 5000, `span ${span}`);
    // Call order is kept per contact.
    assert.deepEqual(
      sends.filter((s) => s.chat === 'c0').map((s) => s.at),
      [...sends.filter((s) => s.chat === 'c0').map((s) => s.at)].sort((a, b) => a - b),
    );
  });

  it('one contact alone is paced by its interval plus jitter', async () => {
    const clock = new VirtualClock();
    const o: PacingOptions = { minIntervalMs: 1000, jitterMs: 500, globalPerMinute: 600, maxWaitMs: Number.POSITIVE_INFINITY };
    let r = 0;
    const pacer = new Pacer(o, clock, () => [0, 0.5, 0.999][r++ % 3] ?? 0);
    const times: number[] = [];
    const all = Array.from({ length: 4 }, () => pacer.acquire('solo').then(() => times.push(clock.now())));
    await clock.run();
    await Promise.all(all);
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
    assert.deepEqual(gaps, [1000, 1250, 1500]);
  });

  it('a slot beyond maxWaitMs is not reserved: the job goes back to the queue with the wait', async () => {
    const clock = new VirtualClock();
    const pacer = new Pacer({ ...defaults, maxWaitMs: 10_000 }, clock);
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => pacer.acquire(`x${i}`)).map((p) => Promise.race([p, Promise.resolve('waiting')])));
    const refused = results.filter((r) => r.status === 'rejected');
    // Slots at 0, 3, 6, 9 s fit in 10 s; 12 and 15 s do not.
    assert.equal(refused.length, 2);
    for (const r of refused) {
      assert.ok(r.status === 'rejected' && isHubError(r.reason, 'PLATFORM_RATE_LIMITED'));
      assert.equal(r.reason.retry, 'delay');
      assert.equal(r.reason.retryAfterMs, 12_000);
    }
    assert.equal(pacer.backlog, 3);
    await clock.run();
  });

  it('a cancelled (unused) slot is given back; a used one is not', () => {
    const clock = new VirtualClock();
    const pacer = new Pacer({ ...defaults, jitterMs: 0 }, clock);
    const [a] = pacer.reserve('a', 1);
    const [b] = pacer.reserve('b', 1);
    assert.equal(b?.at, (a?.at ?? 0) + 3000);
    b?.cancel();
    const [c] = pacer.reserve('c', 1);
    assert.equal(c?.at, b?.at, 'the freed global slot is reused');
    a?.cancel();
    const [a2] = pacer.reserve('a', 1);
    assert.equal(a2?.at, a?.at, 'the contact interval is rolled back too');
  });

  it('one send at a time: the next waits for a slow send to end, and its gaps count from that end', async () => {
    const clock = new VirtualClock();
    const pacer = new Pacer({ minIntervalMs: 0, jitterMs: 0, globalPerMinute: 60, maxWaitMs: Number.POSITIVE_INFINITY }, clock);
    const [a] = pacer.reserve('a', 1);
    const [b] = pacer.reserve('b', 1);
    const [c] = pacer.reserve('c', 1);
    const started: [string, number][] = [];
    const start = clock.now();
    const sendA = (async () => {
      await a?.wait();
      started.push(['a', clock.now() - start]);
      await clock.sleep(2500); // the platform takes 2.5 s
      a?.sent();
    })();
    const sendB = (async () => {
      await b?.wait();
      started.push(['b', clock.now() - start]);
      throw new Error('send failed');
    })().catch(() => b?.cancel()); // a failed send ends too: the pacer is not stuck
    const sendC = (async () => {
      await c?.wait();
      started.push(['c', clock.now() - start]);
      c?.sent();
    })();
    await clock.run();
    await Promise.all([sendA, sendB, sendC]);
    // b was due at 1 s but a was still sending; it starts 1 s after a ended (3.5 s), c 1 s after b.
    assert.deepEqual(started, [['a', 0], ['b', 3500], ['c', 4500]]);
  });

  it('a send that hangs holds the others for SEND_STUCK_MS at most', async () => {
    const clock = new VirtualClock();
    const pacer = new Pacer({ minIntervalMs: 0, jitterMs: 0, globalPerMinute: 60, maxWaitMs: Number.POSITIVE_INFINITY }, clock);
    const [a] = pacer.reserve('a', 1);
    const [b] = pacer.reserve('b', 1);
    const start = clock.now();
    let bAt = -1;
    void a?.wait(); // never ends
    const sendB = (async () => {
      await b?.wait();
      bAt = clock.now() - start;
      b?.sent();
    })();
    await clock.run();
    await sendB;
    assert.equal(bAt, SEND_STUCK_MS + 1000);
  });

  it('an aborted wait rejects with the abort reason', async () => {
    const pacer = new Pacer({ minIntervalMs: 10_000, jitterMs: 0, globalPerMinute: 60, maxWaitMs: 60_000 }, {
      now: () => Date.now(),
      sleep: (ms, signal) =>
        new Promise((resolve, reject) => {
          const t = setTimeout(resolve, ms);
          signal?.addEventListener('abort', () => {
            clearTimeout(t);
            reject(signal.reason);
          });
        }),
    });
    const ac = new AbortController();
    await pacer.acquire('a', ac.signal);
    const second = pacer.acquire('a', ac.signal);
    ac.abort(new Error('closing'));
    await assert.rejects(second, /closing/);
  });
});
