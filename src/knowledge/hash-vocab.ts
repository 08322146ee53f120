/**
 * A key -> id table made only of typed arrays (open addressing on two hashes), so a trained engine
 * can be built in a worker thread and handed to the main thread without rebuilding a `Map` of
 * hundreds of thousands of keys there. String keys: two 32-bit hashes (two different strings share
 * an id only if both collide, about 1 in 2^64 per pair). Numeric keys (53-bit feature hashes): the
 * key's high and low parts, exact.
 */

export interface HashVocabState {
  h1: Int32Array;
  h2: Int32Array;
  ids: Int32Array;
  size: number;
}

function hash1(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

function hash2(s: string): number {
  let h = 0x9747b28c;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x5bd1e995);
    h ^= h >>> 15;
  }
  return (h ^ (s.length * 0x27d4eb2d)) | 0;
}

const HI = 2 ** 21;

function hiOf(k: number): number {
  return Math.floor(k / HI) | 0;
}

function loOf(k: number): number {
  // k - hi * HI rather than k % HI: the same for integers below 2^53, without a floating-point modulo.
  return (k - Math.floor(k / HI) * HI) | 0;
}

function mix(a: number, b: number): number {
  return (a ^ Math.imul(b, 0x9e3779b1)) >>> 0;
}

export class HashVocab {
  private readonly h1: Int32Array;
  private readonly h2: Int32Array;
  private readonly ids: Int32Array;
  private readonly mask: number;
  readonly size: number;

  private constructor(s: HashVocabState) {
    this.h1 = s.h1;
    this.h2 = s.h2;
    this.ids = s.ids;
    this.mask = s.ids.length - 1;
    this.size = s.size;
  }

  /** Ids are the positions of `keys` (which must be distinct). */
  static fromKeys(keys: Iterable<string>, count: number): HashVocab {
    return HashVocab.build(keys, count, hash1, hash2);
  }

  /**
   * A table of numeric keys (non-negative integers below 2^53, e.g. feature keys): the two halves
   * of the key take the place of the two string hashes. Look these up with `getNumber`.
   */
  static fromNumbers(keys: Iterable<number>, count: number): HashVocab {
    return HashVocab.build(keys, count, hiOf, loOf);
  }

  private static build<K>(keys: Iterable<K>, count: number, first: (k: K) => number, second: (k: K) => number): HashVocab {
    let cap = 16;
    while (cap < count * 2) cap *= 2;
    const h1 = new Int32Array(cap);
    const h2 = new Int32Array(cap);
    const ids = new Int32Array(cap).fill(-1);
    const mask = cap - 1;
    let n = 0;
    for (const k of keys) {
      const a = first(k);
      const b = second(k);
      let slot = mix(a, b) & mask;
      while (ids[slot]! >= 0) slot = (slot + 1) & mask; // slot <= mask < cap
      h1[slot] = a;
      h2[slot] = b;
      ids[slot] = n++;
    }
    return new HashVocab({ h1, h2, ids, size: n });
  }

  get(k: string): number | undefined {
    return this.find(hash1(k), hash2(k));
  }

  getNumber(k: number): number | undefined {
    return this.find(hiOf(k), loOf(k));
  }

  private find(a: number, b: number): number | undefined {
    let slot = mix(a, b) & this.mask;
    // Bounded probe: the table is at most half full, but a detached (transferred-away) table is empty.
    for (let n = 0; n < this.ids.length; n++) {
      const id = this.ids[slot]!; // slot <= mask = ids.length - 1
      if (id < 0) return undefined;
      if (this.h1[slot] === a && this.h2[slot] === b) return id;
      slot = (slot + 1) & this.mask;
    }
    return undefined;
  }

  static fromState(s: HashVocabState): HashVocab {
    return new HashVocab(s);
  }

  get state(): HashVocabState {
    return { h1: this.h1, h2: this.h2, ids: this.ids, size: this.size };
  }
}

/**
 * Numeric keys (as `HashVocab.fromNumbers`) -> ids in order of first sight, growing as keys come
 * (kept at most half full). Training interns every feature key of every example here: no `Map`
 * of boxed 53-bit numbers, no garbage per key. A slot is three adjacent ints (high part, low part,
 * id + 1; 0 = empty), so a lookup touches one cache line, not three arrays.
 */
export class NumberVocabBuilder {
  private table: Int32Array;
  private mask: number;
  size = 0;

  /** `expected`: about how many keys will come (the table grows as needed). */
  constructor(expected = 0) {
    let cap = 1024;
    while (cap < expected * 2) cap *= 2;
    this.table = new Int32Array(3 * cap);
    this.mask = cap - 1;
  }

  /** The id of `k`, a new one (= the count so far) when it was not seen before. */
  intern(k: number): number {
    const a = hiOf(k);
    const b = loOf(k);
    const t = this.table;
    let slot = mix(a, b) & this.mask;
    // 3 * slot + 2 < 3 * (mask + 1) = t.length; the table always has a free slot (at most half full).
    for (;;) {
      const at = 3 * slot;
      const id1 = t[at + 2]!;
      if (id1 === 0) break;
      if (t[at] === a && t[at + 1] === b) return id1 - 1;
      slot = (slot + 1) & this.mask;
    }
    const id = this.size++;
    t[3 * slot] = a;
    t[3 * slot + 1] = b;
    t[3 * slot + 2] = id + 1;
    if (this.size * 2 > this.mask + 1) this.grow();
    return id;
  }

  /** The table as a `HashVocab` (same slots, so no re-hashing). */
  vocab(): HashVocab {
    const cap = this.mask + 1;
    const h1 = new Int32Array(cap);
    const h2 = new Int32Array(cap);
    const ids = new Int32Array(cap);
    const t = this.table;
    for (let s = 0; s < cap; s++) {
      h1[s] = t[3 * s]!;
      h2[s] = t[3 * s + 1]!;
      ids[s] = t[3 * s + 2]! - 1;
    }
    return HashVocab.fromState({ h1, h2, ids, size: this.size });
  }

  private grow(): void {
    const old = this.table;
    const cap = (this.mask + 1) * 2;
    const t = new Int32Array(3 * cap);
    this.mask = cap - 1;
    for (let at = 0; at < old.length; at += 3) {
      const id1 = old[at + 2]!; // at + 2 < old.length
      if (id1 === 0) continue;
      const a = old[at]!;
      const b = old[at + 1]!;
      let slot = mix(a, b) & this.mask;
      while (t[3 * slot + 2]! !== 0) slot = (slot + 1) & this.mask;
      t[3 * slot] = a;
      t[3 * slot + 1] = b;
      t[3 * slot + 2] = id1;
    }
    this.table = t;
  }
}
