import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import type { BotDecision, Responder, ResponderTurn } from '../../src/core/responder.js';
import { startTestHub, until } from '../helpers/hub.js';

class Echo implements Responder {
  async respond(turn: ResponderTurn): Promise<BotDecision> {
    return { kind: 'answer', text: `echo: ${turn.text}`, confidence: 0.9 };
  }
}

/**
 * A channel's sends are spread over several BullMQ workers (src/hub/runners.ts `outboundWorkers`,
 * 16 sends each); together they run exactly `queues.outboundConcurrency` sends at once.
 */
describe('send workers of a channel', () => {
  for (const concurrency of [20, 5]) {
    it(`outboundConcurrency ${concurrency}: that many sends at once, never more, and every reply sent once`, async () => {
      let inFlight = 0;
      let most = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const lb = new LoopbackAdapter({
        onSend: async () => {
          inFlight++;
          most = Math.max(most, inFlight);
          await gate;
          inFlight--;
        },
      });
      const t = await startTestHub({ adapters: [lb], responder: new Echo(), config: { queues: { outboundConcurrency: concurrency } } });
      after(() => t.stop());
      const n = concurrency + 12;
      for (let i = 0; i < n; i++) await lb.receive(`c${concurrency}-u${i}`, `hello ${i}`);
      await until(() => inFlight >= concurrency, 15_000, `${concurrency} sends in flight`);
      // The others stay queued while these hang.
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(most, concurrency);
      assert.equal(lb.sent.length, 0);
      release();
      await lb.waitForSent(n);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(lb.sent.length, n);
      assert.equal(new Set(lb.sent.map((m) => m.text)).size, n);
      assert.equal(most, concurrency);
    });
  }
});
