/**
 * A worker thread's code as plain JavaScript, for a hub that runs its TypeScript sources (npm
 * start, the tests, bin/switchboard.mjs: all under tsx). Node 20's worker threads do not inherit
 * tsx's module hook, so a thread would register tsx itself and compile every module it loads
 * there: about 30 MB more of the hub's resident size per thread, and compiling when the thread
 * boots (bench/feed-thread-memory.ts, docs/analytics.md). Instead the hub has esbuild (tsx's own
 * compiler) bundle a thread's entry points once: ESM, with shared chunks (`splitting`), so a
 * module that two entries import is one module in the thread, as it is in the sources. Used by the
 * analytics feed's thread (src/analytics/feed.ts) and the knowledge base's reload worker
 * (src/knowledge/reloader.ts).
 *
 * Packages stay imports (`packages: 'external'`): the bundle lives in `node_modules/.cache/
 * switchboard/` beside the hub's packages, where Node resolves them as it does from the sources.
 * The folder is named for a hash of what the bundle holds: a process that finds it there loads it
 * as is, one that builds it writes it under a temporary name and renames it into place (hubs
 * starting at once never see half a bundle), and a changed source gets a new folder. Folders no
 * hub has started with for a week are removed.
 *
 * Anything that fails (no esbuild, a folder that cannot be written) leaves the thread to tsx, as
 * before: the returned map is empty and the caller passes the sources' URLs. A thread whose bundle
 * is gone (pruned under a hub that ran for a week) loads the sources through tsx too
 * (src/core/thread-code.mjs, on `ERR_MODULE_NOT_FOUND`).
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const STALE_MS = 7 * 24 * 3600 * 1000;

/** Where bundles are kept: `.cache/switchboard` in the `node_modules` folder that holds the hub's packages. */
export function bundleRoot(): string {
  return join(dirname(dirname(require.resolve('bullmq/package.json'))), '.cache', 'switchboard');
}

const built = new Map<string, Promise<Map<string, string>>>();

/**
 * The bundled file URL of each `.ts` entry (file URLs), built (or not) once per process and set of
 * entries.
 * @returns entry URL -> bundled URL; empty when the entries are not TypeScript or the build failed
 *   (`onError` gets esbuild's or the file system's message).
 */
export function bundleForThread(entries: readonly string[], onError: (message: string) => void): Promise<Map<string, string>> {
  const ts = entries.filter((e) => e.endsWith('.ts'));
  if (ts.length === 0) return Promise.resolve(new Map());
  const key = ts.join('\n');
  let p = built.get(key);
  if (!p) {
    // A failure is kept too: this process's threads compile their TypeScript, and say so once.
    p = buildThreadBundle(ts, bundleRoot()).catch((err: unknown) => {
      onError(err instanceof Error ? err.message : String(err));
      return new Map<string, string>();
    });
    built.set(key, p);
  }
  return p;
}

/** Builds (or finds) the bundle of `entries` (`.ts` file URLs) under `root`; entry URL -> bundled URL. */
export async function buildThreadBundle(entries: readonly string[], root: string): Promise<Map<string, string>> {
  const esbuild = await import('esbuild');
  const files = entries.map((e) => fileURLToPath(e));
  // Output paths relative to the entries' common folder, so the hash does not depend on where this runs.
  const base = commonDir(files);
  const outDir = join(root, 'out'); // where esbuild names its outputs; nothing is written there
  const out = await esbuild.build({
    entryPoints: files,
    outbase: base,
    absWorkingDir: base,
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    outExtension: { '.js': '.mjs' },
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const hash = createHash('sha256');
  for (const f of [...out.outputFiles].sort((a, b) => a.path.localeCompare(b.path))) {
    hash.update(relative(outDir, f.path)).update('\0').update(f.contents);
  }
  const dir = join(root, `thread-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(dir)) {
    await utimes(dir, new Date(), new Date()); // in use: not pruned for another week
  } else {
    const tmp = `${dir}.tmp-${randomUUID()}`;
    for (const f of out.outputFiles) {
      const target = join(tmp, relative(outDir, f.path));
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, f.contents);
    }
    try {
      await rename(tmp, dir);
    } catch (err) {
      // Another process put the same bundle there first.
      await rm(tmp, { recursive: true, force: true });
      if (!existsSync(dir)) throw err;
    }
  }
  await prune(root, dir);
  const urls = new Map<string, string>();
  for (const [path, o] of Object.entries(out.metafile.outputs)) {
    if (!o.entryPoint) continue;
    const entry = entries[files.indexOf(resolve(base, o.entryPoint))];
    if (entry) urls.set(entry, pathToFileURL(join(dir, relative(outDir, resolve(base, path)))).href);
  }
  if (urls.size !== entries.length) throw new Error(`esbuild returned ${urls.size} of ${entries.length} entry points`);
  return urls;
}

function commonDir(files: string[]): string {
  let dir = dirname(files[0] ?? '.');
  while (!files.every((f) => !relative(dir, f).startsWith('..'))) dir = dirname(dir);
  return dir;
}

/** Removes bundles (and temporary folders) no hub has started with for a week. */
async function prune(root: string, keep: string): Promise<void> {
  for (const name of await readdir(root).catch(() => [] as string[])) {
    const path = join(root, name);
    if (path === keep || !name.startsWith('thread-')) continue;
    const s = await stat(path).catch(() => undefined);
    if (s && Date.now() - s.mtimeMs > STALE_MS) await rm(path, { recursive: true, force: true });
  }
}
