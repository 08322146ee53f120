/**
 * A one-hidden-layer network (ReLU, dropout) on the same sparse TF-IDF vectors as the softmax
 * classifier, trained by SGD at load time. It errs on different questions than the linear model:
 * averaged with it, BANKING77 top-1 rose on each of five validation splits (mean +0.5 points).
 * Weights: `w1[f * H + i]` (feature-major, so a sparse query adds a few rows), `w2[i * K + c]`.
 */
import type { SparseVec } from './features.js';
import { classWeights, softmaxInPlace } from './classifier.js';
import { seededRandom, shuffle } from './rng.js';
import type { Yielder } from './yielder.js';

export interface MlpOptions {
  hidden: number;
  /** At least this many epochs, more on smaller bases so that at least `minSteps` steps are taken (at most 50 epochs). */
  epochs: number;
  minSteps: number;
  learningRate: number;
  /** Dropout on the hidden layer while training. */
  dropout: number;
  seed: number;
}

export const defaultMlpOptions: MlpOptions = { hidden: 128, epochs: 6, minSteps: 30000, learningRate: 0.05, dropout: 0.3, seed: 11 };

export interface MlpState {
  k: number;
  hidden: number;
  w1: Float32Array;
  b1: Float32Array;
  w2: Float32Array;
  b2: Float32Array;
}

export class Mlp {
  private readonly s: MlpState;
  private readonly h: Float32Array;

  private constructor(s: MlpState) {
    this.s = s;
    this.h = new Float32Array(s.hidden);
  }

  static fromState(s: MlpState): Mlp {
    return new Mlp(s);
  }

  get state(): MlpState {
    return this.s;
  }

  static async train(xs: readonly SparseVec[], ys: Int32Array, k: number, nFeatures: number, opts: MlpOptions, y: Yielder): Promise<Mlp> {
    const H = opts.hidden;
    const rand = seededRandom(opts.seed);
    const init = (n: number): Float32Array => {
      const a = new Float32Array(n);
      for (let i = 0; i < n; i++) a[i] = (rand() - 0.5) * 0.1;
      return a;
    };
    const s: MlpState = { k, hidden: H, w1: init(nFeatures * H), b1: new Float32Array(H), w2: init(H * k), b2: new Float32Array(k) };
    const { w1, b1, w2, b2 } = s;
    const net = new Mlp(s);
    const h = net.h;
    const p = new Float64Array(k);
    const dh = new Float32Array(H);
    const mask = new Float32Array(H);
    const classWeight = classWeights(ys, k);
    const keep = 1 / (1 - opts.dropout);
    const order = Array.from({ length: xs.length }, (_, i) => i);
    const epochs = Math.max(opts.epochs, Math.min(50, Math.ceil(opts.minSteps / Math.max(1, xs.length))));
    // Hot loops below use `!` on indices that are in range by construction: n < xs.length =
    // ys.length, labels < k, i < H, c < k, feature ids < nFeatures (w1 has nFeatures * H slots).
    for (let epoch = 0; epoch < epochs; epoch++) {
      shuffle(order, rand);
      const lrEpoch = opts.learningRate * (1 - (0.9 * epoch) / epochs);
      for (const n of order) {
        const x = xs[n]!;
        const target = ys[n]!;
        const lr = lrEpoch * classWeight[target]!;
        net.forward(x);
        for (let i = 0; i < H; i++) {
          mask[i] = rand() < opts.dropout ? 0 : keep;
          h[i]! *= mask[i]!;
        }
        logits(h, w2, b2, k, p);
        softmaxInPlace(p);
        p[target]! -= 1;
        for (let i = 0; i < H; i++) {
          dh[i] = 0;
          const hi = h[i]!;
          if (hi === 0) continue;
          const base = i * k;
          let g = 0;
          for (let c = 0; c < k; c++) {
            const pc = p[c]!;
            g += pc * w2[base + c]!;
            w2[base + c]! -= lr * pc * hi;
          }
          dh[i] = g * mask[i]!;
        }
        for (let c = 0; c < k; c++) b2[c]! -= lr * p[c]!;
        const { idx, val } = x;
        for (let j = 0; j < idx.length; j++) {
          const base = idx[j]! * H;
          const v = val[j]! * lr;
          for (let i = 0; i < H; i++) {
            const d = dh[i]!;
            if (d !== 0) w1[base + i]! -= v * d;
          }
        }
        for (let i = 0; i < H; i++) b1[i]! -= lr * dh[i]!;
        const wait = y();
        if (wait) await wait;
      }
    }
    return net;
  }

  /** Class probabilities for one query (`out` has exactly K slots). */
  predict(x: SparseVec, out: Float64Array): void {
    this.forward(x);
    logits(this.h, this.s.w2, this.s.b2, this.s.k, out);
    softmaxInPlace(out);
  }

  /** Hidden activations (ReLU) into `this.h`. */
  private forward(x: SparseVec): void {
    const { w1, b1, hidden: H } = this.s;
    const h = this.h;
    h.set(b1);
    // h has H slots; feature ids index rows of H weights.
    const { idx, val } = x;
    for (let j = 0; j < idx.length; j++) {
      const base = idx[j]! * H;
      const v = val[j]!;
      for (let i = 0; i < H; i++) h[i]! += v * w1[base + i]!;
    }
    for (let i = 0; i < H; i++) if (h[i]! < 0) h[i] = 0;
  }
}

function logits(h: Float32Array, w2: Float32Array, b2: Float32Array, k: number, out: Float64Array): void {
  // out and b2 have k slots, w2 has h.length * k.
  for (let c = 0; c < k; c++) out[c] = b2[c]!;
  for (let i = 0; i < h.length; i++) {
    const hi = h[i]!;
    if (hi === 0) continue;
    const base = i * k;
    for (let c = 0; c < k; c++) out[c]! += hi * w2[base + c]!;
  }
}
