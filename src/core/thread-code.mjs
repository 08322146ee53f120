/**
 * How a worker thread loads its code (src/core/thread-bundle.ts): the bundle the hub built, plain
 * JavaScript; without one, or when its folder is gone (`ERR_MODULE_NOT_FOUND`: pruned under a hub
 * that ran for a week), the source, registering tsx in this thread first when it is TypeScript.
 * Node 20's worker threads do not inherit the main thread's module hooks (tsx's `--import` hook
 * registers itself on the main thread only), so a `.ts` source would otherwise fail with "Unknown
 * file extension .ts". Plain JavaScript, so a thread loads this with no hooks. Used by the
 * analytics feed's thread entry (src/analytics/feed-thread.mjs) and the knowledge reload worker's
 * bootstrap (src/knowledge/reloader.ts).
 *
 * @param {string | undefined} bundle the bundled module's URL, if any
 * @param {string} source the source module's URL
 * @returns {Promise<{ module: Record<string, unknown>; bundle: boolean }>} the module, and whether it came from the bundle
 */
export async function importThreadCode(bundle, source) {
  if (bundle) {
    try {
      return { module: await import(bundle), bundle: true };
    } catch (err) {
      if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    }
  }
  if (source.endsWith('.ts')) {
    const { register } = await import('tsx/esm/api');
    register();
  }
  return { module: await import(source), bundle: false };
}
