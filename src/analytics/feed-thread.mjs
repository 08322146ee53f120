/**
 * The analytics feed's thread entry: the file BullMQ's sandbox (`useWorkerThreads`) imports in its
 * worker thread; each job calls the default export. The work is src/analytics/feed-processor.ts
 * (`workerData.feed.processor`). Node 20's worker threads do not inherit the main thread's module
 * hooks, and tsx's `--import` hook registers itself on the main thread only, so a hub running its
 * TypeScript sources (npm start: `node --import tsx`; bin/switchboard.mjs: tsx's `register()`;
 * the tests) would fail here with "Unknown file extension .ts": this registers tsx in the thread
 * first when the processor is TypeScript. Plain JavaScript, so the thread loads it with no hooks.
 */
import { workerData } from 'node:worker_threads';

const { processor } = workerData.feed;
if (processor.endsWith('.ts')) {
  const { register } = await import('tsx/esm/api');
  register();
}
const { default: run } = await import(processor);
export default run;
