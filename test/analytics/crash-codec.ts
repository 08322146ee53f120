/**
 * PII codecs for the feed thread's tests (feed-thread.test.ts). `crashOnce`: plaintext, except that the
 * `after`-th value it opens in a thread kills that thread (`process.exit(70)` in the middle of a
 * rebuild's transaction), once: the first crash writes `marker` (the crashed thread's id), and a
 * codec made after that never crashes. The feed thread imports this module by its URL (`codec`).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { threadId } from 'node:worker_threads';
import { PLAINTEXT, type PiiCodec } from '../../src/core/storage/pii.js';

export function crashOnce(arg: { marker: string; after: number }): PiiCodec {
  let opened = 0;
  return {
    enabled: PLAINTEXT.enabled,
    currentKeyId: PLAINTEXT.currentKeyId,
    hashKeyId: PLAINTEXT.hashKeyId,
    keyFingerprints: PLAINTEXT.keyFingerprints,
    seal: (plain) => PLAINTEXT.seal(plain),
    open: (stored, what) => {
      if (++opened === arg.after && !existsSync(arg.marker)) {
        writeFileSync(arg.marker, String(threadId));
        process.exit(70);
      }
      return PLAINTEXT.open(stored, what);
    },
    lookup: (kind, value) => PLAINTEXT.lookup(kind, value),
    isCurrent: (stored) => PLAINTEXT.isCurrent(stored),
  };
}

/** Plaintext, but every value opened takes `ms` (a slow run to stop in the middle); `marker` written at the first. */
export function slowCodec(arg: { marker: string; ms: number }): PiiCodec {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  return {
    ...crashOnce({ marker: `${arg.marker}.never`, after: 0 }),
    open: (stored, what) => {
      if (!existsSync(arg.marker)) writeFileSync(arg.marker, String(threadId));
      Atomics.wait(cell, 0, 0, arg.ms);
      return PLAINTEXT.open(stored, what);
    },
  };
}
