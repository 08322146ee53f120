/**
 * A thread's code as an esbuild bundle (src/core/thread-bundle.ts), shown with the analytics feed's
 * thread, and its entry's fall back to the TypeScript sources (src/analytics/feed-thread.mjs; the
 * reload worker's: test/knowledge/loader.test.ts).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { bundleForThread, bundleRoot, buildThreadBundle } from '../../src/core/thread-bundle.js';
import { tempDir } from '../helpers/temp-dir.js';

const PROCESSOR = new URL('../../src/analytics/feed-processor.ts', import.meta.url).href;
const PII = new URL('../../src/hub/pii.ts', import.meta.url).href;
const ENTRY = new URL('../../src/analytics/feed-thread.mjs', import.meta.url);

/** Loads feed-thread.mjs in a thread with `feed` as its workerData; what its default export is, or the load's error code. */
function loadEntry(feed: Record<string, unknown>): Promise<string> {
  const code = `
    const { parentPort } = require('node:worker_threads');
    import(${JSON.stringify(ENTRY.href)}).then(
      (m) => parentPort.postMessage(typeof m.default),
      (e) => parentPort.postMessage('error ' + e.code),
    );`;
  const w = new Worker(code, { eval: true, workerData: { feed } });
  return new Promise<string>((resolve, reject) => {
    w.once('message', (m: string) => void w.terminate().then(() => resolve(m)));
    w.once('error', reject);
  });
}

describe('the feed thread bundle', () => {
  const dir = tempDir('sb-bundle-');

  it('bundles the processor and the codec module into one folder named by its contents, found again as is', async () => {
    const errors: string[] = [];
    const urls = await bundleForThread([PROCESSOR, PII], (m) => errors.push(m));
    assert.equal(errors.join(), '');
    const processor = urls.get(PROCESSOR);
    const pii = urls.get(PII);
    assert.ok(processor?.endsWith('/analytics/feed-processor.mjs') && pii?.endsWith('/hub/pii.mjs'), JSON.stringify([...urls]));
    const folder = fileURLToPath(new URL('..', processor));
    assert.equal(fileURLToPath(new URL('../..', processor)), `${bundleRoot()}/`);
    assert.match(folder, /\/thread-[0-9a-f]{16}\/$/);
    // The shared modules (the PII codec's) are one chunk both entries import: one module in the thread.
    assert.ok(readdirSync(folder).some((f) => /^chunk-.*\.mjs$/.test(f)), readdirSync(folder).join());
    // Asked again: the same build (once per process); built again: the folder found as it is.
    assert.equal(await bundleForThread([PROCESSOR, PII], (m) => errors.push(m)), urls);
    const again = await buildThreadBundle([PROCESSOR, PII], bundleRoot());
    assert.equal(again.get(PROCESSOR), processor);
    // Plain JavaScript: the thread entry loads it with no tsx.
    assert.equal(await loadEntry({ processor }), 'function');
  });

  it('a changed source gets a new folder; folders no hub started with for a week are removed', async () => {
    const root = join(dir, 'cache');
    const src = join(dir, 'src');
    mkdirSync(src);
    const file = join(src, 'entry.ts');
    writeFileSync(file, `export const answer: number = 41;\n`);
    const entry = pathToFileURL(file).href;
    const first = (await buildThreadBundle([entry], root)).get(entry);
    assert.ok(first);
    assert.equal((await import(first)).answer, 41);
    const old = join(root, 'thread-0000000000000000');
    const recent = join(root, 'thread-1111111111111111');
    mkdirSync(old);
    mkdirSync(recent);
    const eightDays = new Date(Date.now() - 8 * 24 * 3600 * 1000);
    utimesSync(old, eightDays, eightDays);
    utimesSync(recent, new Date(Date.now() - 6 * 24 * 3600 * 1000), new Date(Date.now() - 6 * 24 * 3600 * 1000));
    writeFileSync(file, `export const answer: number = 42;\n`);
    const second = (await buildThreadBundle([entry], root)).get(entry);
    assert.ok(second && second !== first);
    assert.equal((await import(second)).answer, 42);
    assert.equal(existsSync(old), false, 'a week-old folder is removed');
    assert.equal(existsSync(recent), true, 'a folder used within the week stays');
    assert.equal(existsSync(fileURLToPath(first)), true, 'the previous bundle stays (a running hub may use it)');
    // Found again: its folder's time is renewed, so pruning counts from the last start.
    const firstDir = fileURLToPath(new URL('.', first));
    utimesSync(firstDir, eightDays, eightDays);
    writeFileSync(file, `export const answer: number = 41;\n`);
    assert.equal((await buildThreadBundle([entry], root)).get(entry), first);
    assert.ok(Date.now() - statSync(firstDir).mtimeMs < 60_000);
  });

  it('a source that does not build: no bundle, and the error says why', async () => {
    const file = join(dir, 'broken.ts');
    writeFileSync(file, `export const x = ;\n`);
    const errors: string[] = [];
    const urls = await bundleForThread([pathToFileURL(file).href], (m) => errors.push(m));
    assert.equal(urls.size, 0);
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? '', /broken\.ts:1:\d+: ERROR: Unexpected ";"/);
  });

  it('a thread whose bundle is gone loads the sources through tsx; without sources its load fails', async () => {
    const gone = pathToFileURL(join(dir, 'thread-gone', 'analytics', 'feed-processor.mjs')).href;
    assert.equal(await loadEntry({ processor: gone, sources: { processor: PROCESSOR } }), 'function');
    assert.equal(await loadEntry({ processor: gone }), 'error ERR_MODULE_NOT_FOUND');
    // No bundle at all: TypeScript, through tsx.
    assert.equal(await loadEntry({ processor: PROCESSOR }), 'function');
  });
});
