// What the analytics feed's worker thread adds to the hub's resident size, step by step (issue #19,
// docs/speed.md "Memory: the feed's thread"): a thread with the feed's resource limits, then the
// processor's modules as the hub hands them to it (an esbuild bundle, src/core/thread-bundle.ts;
// with --tsx: tsx registered in the thread and the TypeScript sources compiled there, as before the
// bundle and as the thread still falls back to), jieba's trie (what the thread loads when it tokenizes
// a Chinese question itself; the hub's thread answers that since remote-terms.ts), and a storage on a
// fresh SQLite file.
//   npm run bench -- feed-thread-memory [--tsx]
// Prints the resident size after each step and the step's share, in MB (last line JSON).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { bundleForThread } from '../src/core/thread-bundle.js';

const { values } = parseArgs({ options: { tsx: { type: 'boolean', default: false } } });
const dir = mkdtempSync(join(tmpdir(), 'sb-feed-mem-'));
const src = new URL('../src/', import.meta.url).href;
const sources = { processor: `${src}analytics/feed-processor.ts`, tokenize: `${src}knowledge/tokenize.ts`, storage: `${src}core/storage/storage.ts` };
// The bundle is built before the thread starts (the hub builds it once, before it starts the feed).
const bundle = values.tsx ? undefined : await bundleForThread(Object.values(sources), (m) => { throw new Error(m); });
const url = (s: string) => bundle?.get(s) ?? s;
const code = `
const { parentPort } = require('node:worker_threads');
(async () => {
  const step = (name) => new Promise((resolve) => { parentPort.once('message', resolve); parentPort.postMessage(name); });
  await step('thread');
  ${values.tsx ? "const { register } = await import('tsx/esm/api'); register(); await step('tsx');" : ''}
  await import(${JSON.stringify(url(sources.processor))});
  await step(${JSON.stringify(values.tsx ? 'processor modules (tsx)' : 'processor modules (bundle)')});
  const { tokenize } = await import(${JSON.stringify(url(sources.tokenize))});
  tokenize('我的订单什么时候发货');
  await step('jieba');
  const { Storage } = await import(${JSON.stringify(url(sources.storage))});
  const s = await Storage.open(${JSON.stringify(`sqlite:${join(dir, 'hub.db')}`)}, { sqlite: { checkpointer: false, cacheMb: 16 } });
  await step('storage (fresh file)');
  await s.close();
  parentPort.postMessage('done');
})();
`;

const rss = () => Math.round(process.memoryUsage().rss / 1048576);
const before = rss();
const steps: { step: string; rssMb: number; addedMb: number }[] = [];
let last = before;
const w = new Worker(code, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
await new Promise<void>((resolve, reject) => {
  w.on('message', (name: string) => {
    if (name === 'done') return resolve();
    // Let the thread's allocations settle before reading the size.
    setTimeout(() => {
      const now = rss();
      steps.push({ step: name, rssMb: now, addedMb: now - last });
      console.log(`${name.padEnd(22)} rss ${now} MB  (+${now - last})`);
      last = now;
      w.postMessage('next');
    }, 300);
  });
  w.on('error', reject);
});
await w.terminate();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ bench: 'feed-thread-memory', code: values.tsx ? 'tsx' : 'bundle', rssBeforeMb: before, steps, threadTotalMb: last - before }));
