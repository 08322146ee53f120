/**
 * A PII codec for the feed thread's crash test (feed-thread.test.ts): plaintext, except that the
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
