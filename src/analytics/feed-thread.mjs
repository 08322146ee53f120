/**
 * The analytics feed's thread entry: the file BullMQ's sandbox (`useWorkerThreads`) imports in its
 * worker thread; each job calls the default export. The work is src/analytics/feed-processor.ts
 * (`workerData.feed.processor`). A hub running its TypeScript sources (npm start: `node --import
 * tsx`; bin/switchboard.mjs: tsx's `register()`; the tests) hands the thread an esbuild bundle of
 * it (src/core/thread-bundle.ts), plain JavaScript. Node 20's worker threads do not inherit the main
 * thread's module hooks, and tsx's `--import` hook registers itself on the main thread only, so
 * when the processor is TypeScript after all (no bundle was built), or its bundle is gone, this
 * registers tsx in the thread first, else the import fails with "Unknown file extension .ts".
 * Plain JavaScript, so the thread loads it with no hooks.
 */
import { workerData } from 'node:worker_threads';

const feed = workerData.feed;

async function withTsx(processor) {
  const { register } = await import('tsx/esm/api');
  register();
  return import(processor);
}

let mod;
if (feed.processor.endsWith('.ts')) {
  mod = await withTsx(feed.processor);
} else {
  try {
    mod = await import(feed.processor);
  } catch (err) {
    if (!feed.sources || err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    // The bundle was removed under a long-running hub: the sources, through tsx.
    feed.processor = feed.sources.processor;
    if (feed.codec && feed.sources.codec) feed.codec.module = feed.sources.codec;
    mod = await withTsx(feed.processor);
  }
}
export default mod.default;
