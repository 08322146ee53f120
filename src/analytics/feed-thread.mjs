/**
 * The analytics feed's thread entry: the file BullMQ's sandbox (`useWorkerThreads`) imports in its
 * worker thread; each job calls the default export. The work is src/analytics/feed-processor.ts
 * (`workerData.feed.processor`). A hub running its TypeScript sources (npm start: `node --import
 * tsx`; bin/switchboard.mjs: tsx's `register()`; the tests) hands the thread an esbuild bundle of
 * it (src/core/thread-bundle.ts) and the sources (`sources`) to fall back on; src/core/thread-code.mjs
 * loads one or the other. Plain JavaScript, so the thread loads it with no hooks.
 */
import { workerData } from 'node:worker_threads';
import { importThreadCode } from '../core/thread-code.mjs';

const feed = workerData.feed;
const { module, bundle } = await importThreadCode(feed.sources ? feed.processor : undefined, feed.sources?.processor ?? feed.processor);
if (feed.sources && !bundle) {
  // The bundle is gone: the processor opens the codec module from the sources too.
  feed.processor = feed.sources.processor;
  if (feed.codec && feed.sources.codec) feed.codec.module = feed.sources.codec;
}
export default module.default;
