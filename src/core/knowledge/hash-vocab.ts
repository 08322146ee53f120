/**
 * A string -> id table made only of typed arrays (open addressing on two 32-bit FNV-1a hashes), so
 * a trained engine can be built in a worker thread and handed to the main thread without
 * rebuilding a `Map` of hundreds of thousands of strings there. Two different strings get the same
 * id only if both 32-bit hashes collide (about 1 in 2^64 per pair).
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
  return k % HI | 0;
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
    let cap = 16;
    while (cap < count * 2) cap *= 2;
    const h1 = new Int32Array(cap);
    const h2 = new Int32Array(cap);
    const ids = new Int32Array(cap).fill(-1);
    const mask = cap - 1;
    let n = 0;
    for (const k of keys) {
      const a = hash1(k);
      const b = hash2(k);
      let slot = (a ^ (b >>> 7)) & mask;
      while (ids[slot] >= 0) slot = (slot + 1) & mask;
      h1[slot] = a;
      h2[slot] = b;
      ids[slot] = n++;
    }
    return new HashVocab({ h1, h2, ids, size: n });
  }

  /**
   * A table of numeric keys (non-negative integers below 2^53, e.g. feature keys): the two halves
   * of the key take the place of the two string hashes. Look these up with `getNumber`.
   */
  static fromNumbers(keys: Iterable<number>, count: number): HashVocab {
    let cap = 16;
    while (cap < count * 2) cap *= 2;
    const h1 = new Int32Array(cap);
    const h2 = new Int32Array(cap);
    const ids = new Int32Array(cap).fill(-1);
    const mask = cap - 1;
    let n = 0;
    for (const k of keys) {
      const a = hiOf(k);
      const b = loOf(k);
      let slot = mix(a, b) & mask;
      while (ids[slot] >= 0) slot = (slot + 1) & mask;
      h1[slot] = a;
      h2[slot] = b;
      ids[slot] = n++;
    }
    return new HashVocab({ h1, h2, ids, size: n });
  }

  getNumber(k: number): number | undefined {
    const a = hiOf(k);
    const b = loOf(k);
    let slot = mix(a, b) & this.mask;
    for (let n = 0; n < this.ids.length; n++) {
      const id = this.ids[slot];
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

  get(k: string): number | undefined {
    const a = hash1(k);
    const b = hash2(k);
    let slot = (a ^ (b >>> 7)) & this.mask;
    // Bounded probe: the table is at most half full, but a detached (transferred-away) table is empty.
    for (let n = 0; n < this.ids.length; n++) {
      const id = this.ids[slot];
      if (id < 0) return undefined;
      if (this.h1[slot] === a && this.h2[slot] === b) return id;
      slot = (slot + 1) & this.mask;
    }
    return undefined;
  }
}
