/**
 * Runs knowledge reloads (YAML parsing + validation + engine training) in a worker thread so that
 * answering never waits on them; the result comes back as typed arrays and is swapped in by the
 * caller in one assignment. One unref'd worker per bot, started on demand and ended once it has
 * been idle for `idleMs` (default 5 minutes): a hub at rest does not keep a thread with its own heap,
 * the engine and the segmenter loaded (about 70 MB resident for the demo base, more for larger
 * ones), at the price of a cold start (a second or so, every file parsed again) for the first hot
 * reload after a quiet spell. `close()` ends it at once.
 * When a worker cannot be started (e.g. no TypeScript loader available) `load` rejects with
 * `WorkerUnavailable` and the caller builds on the main thread instead. A hub running its
 * TypeScript sources hands the worker an esbuild bundle of its code (src/core/thread-bundle.ts),
 * so the thread neither registers tsx nor compiles its modules (docs/knowledge.md).
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { bundleForThread } from '../core/thread-bundle.js';
import { HubError, type HubErrorCode } from '../core/errors.js';
import type { EngineEntry, EngineOptions } from './engine-options.js';
import type { EngineState } from './engine-state.js';
import type { KnowledgeEntry } from './schema.js';
import type { SmallTalkPhrases } from './small-talk.js';
import type { Templates } from './templates.js';

export interface ReloadRequest {
  id: number;
  /** Load this knowledge directory... */
  dir?: string;
  /** ...or build the engine for these in-memory entries. */
  entries?: EngineEntry[];
  maxClassifierEntries: number;
  engine: Partial<EngineOptions>;
  /** Directory loads: the bot's small-talk phrases, for the warnings (the defaults when not given). */
  smallTalk?: SmallTalkPhrases | undefined;
  /** A reload while the bot answers: the worker drops below the answering thread's priority (for good). */
  background?: boolean | undefined;
  /**
   * Directory loads: the id of the last reply for `dir` whose entries the main thread holds. When it
   * is the worker's last reply for `dir` too, unchanged chunks come back as their place in it.
   */
  reuse?: number | undefined;
}

export type ReloadReply =
  | {
      id: number;
      ok: true;
      /**
       * The entries as JSON texts of a few hundred entries each, never spanning two files: the main
       * thread parses them a chunk per tick. A number is a chunk unchanged since the reply named by
       * the request's `reuse`, by its place there (a hot reload of one file parses that file only).
       */
      entryChunks: (string | number)[];
      /** The reply the numbers in `entryChunks` refer to (the request's `reuse`). */
      base?: number;
      templates: Templates | undefined;
      files: string[];
      /** What loads but will not work well (computed here, off the answering thread). */
      warnings: string[];
      engine: EngineState;
    }
  | { id: number; ok: false; error: { code: HubErrorCode; message: string; context: Record<string, unknown> } };

export interface ReloadResult {
  entries: KnowledgeEntry[];
  /** The entries by id (built here chunk by chunk). */
  byId: Map<string, KnowledgeEntry>;
  templates: Templates | undefined;
  files: string[];
  warnings: string[];
  engine: EngineState;
}

export class WorkerUnavailable extends Error {}

/** Entries whose example texts are gathered per tick on the answering thread. */
const TEXT_CHUNK = 1000;

/** The worker's TypeScript source. */
const IMPL = new URL('./reload-worker.ts', import.meta.url).href;

/** How a thread loads its code: the bundle, or the source through tsx (src/core/thread-code.mjs). */
const THREAD_CODE = new URL('../core/thread-code.mjs', import.meta.url).href;

/**
 * Worker bootstrap (CommonJS eval): imports the worker's bundle (src/core/thread-bundle.ts: plain
 * JavaScript, nothing compiled in the thread); without one, or when its folder is gone, the
 * TypeScript source with tsx registered in the worker.
 */
export function reloadWorkerBootstrap(bundle: string | undefined): string {
  return `
const { parentPort } = require('node:worker_threads');
import(${JSON.stringify(THREAD_CODE)})
  .then((m) => m.importThreadCode(${JSON.stringify(bundle)}, ${JSON.stringify(IMPL)}))
  .catch((err) => parentPort.postMessage({ fatal: String(err && err.stack || err) }));
`;
}

/** How long an idle reload worker is kept for the next reload before it ends. */
export const RELOAD_WORKER_IDLE_MS = 5 * 60_000;

export class ReloadWorker {
  private worker: Worker | undefined;
  private ready: Promise<Worker> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: ReloadResult) => void; reject: (e: Error) => void; entries: EngineEntry[] | undefined; dir: string | undefined }>();
  /** Per directory, the entry chunks of the last reply installed (ReloadRequest.reuse). */
  private readonly held = new Map<string, { id: number; chunks: KnowledgeEntry[][] }>();
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: { idleMs?: number; log?: Pick<Logger, 'warn'> | undefined } = {}) {}

  /** Whether the running worker's code came from a bundle (src/core/thread-bundle.ts); undefined while none runs. */
  fromBundle: boolean | undefined;

  /** Whether a worker thread is running or starting. */
  get running(): boolean {
    return this.ready !== undefined;
  }

  /** Ends the worker once nothing has been asked of it for `idleMs` (a new request cancels this). */
  private idleSoon(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.pending.size === 0) void this.close();
    }, this.opts.idleMs ?? RELOAD_WORKER_IDLE_MS);
    this.idleTimer.unref();
  }

  private start(): Promise<Worker> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.ready) return this.ready;
    const bundled = bundleForThread([IMPL], (message) => this.opts.log?.warn({ error: message }, 'knowledge reload worker: no bundle (the worker compiles its TypeScript with tsx instead)'));
    const ready: Promise<Worker> = bundled.then((urls) => new Promise<Worker>((resolve, reject) => {
      if (this.ready !== ready) {
        reject(new WorkerUnavailable('the reload worker was closed while it started'));
        return;
      }
      let w: Worker;
      try {
        w = new Worker(reloadWorkerBootstrap(urls.get(IMPL)), { eval: true });
      } catch (err) {
        reject(new WorkerUnavailable(String(err)));
        return;
      }
      w.unref();
      this.worker = w;
      let started = false;
      const fail = (err: Error): void => {
        this.worker = undefined;
        this.ready = undefined;
        this.fromBundle = undefined;
        if (!started) reject(new WorkerUnavailable(err.message));
        for (const p of this.pending.values()) p.reject(new WorkerUnavailable(err.message));
        this.pending.clear();
      };
      w.on('message', (msg: ReloadReply | { ready: true; bundle: boolean } | { fatal: string }) => {
        if ('ready' in msg) {
          started = true;
          this.fromBundle = msg.bundle;
          resolve(w);
          return;
        }
        if ('fatal' in msg) {
          void w.terminate();
          fail(new Error(msg.fatal));
          return;
        }
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.ok) {
          const ok = msg;
          // The chunks held when the reply came (a reply installed meanwhile must not change them).
          const held = p.dir === undefined ? undefined : this.held.get(p.dir);
          const before = held && held.id === ok.base ? held : undefined;
          void (async () => {
            // Everything per entry is done chunk by chunk (parse, the id map, the engine's entry
            // list and example texts), so that no step blocks answering for long.
            const all: KnowledgeEntry[] = [];
            const byId = new Map<string, KnowledgeEntry>();
            const engineEntries: EngineEntry[] = [];
            const exampleText: string[] = [];
            const chunks: KnowledgeEntry[][] = [];
            for (const chunk of ok.entryChunks) {
              const parsed = typeof chunk === 'number' ? before?.chunks[chunk] : (JSON.parse(chunk) as KnowledgeEntry[]);
              if (!parsed) throw new Error(`reload worker referred to entry chunk ${chunk}, which this thread does not hold`);
              chunks.push(parsed);
              for (const e of parsed) {
                all.push(e);
                byId.set(e.id, e);
                if (!p.entries) engineEntries.push({ id: e.id, questions: e.examples });
              }
              if (typeof chunk === 'string') await new Promise<void>((r) => setImmediate(r));
            }
            if (p.dir !== undefined) this.held.set(p.dir, { id: msg.id, chunks });
            const entries = p.entries ?? engineEntries;
            for (let i = 0; i < entries.length; i += TEXT_CHUNK) {
              for (const e of entries.slice(i, i + TEXT_CHUNK)) for (const q of e.questions) exampleText.push(q);
              if (i + TEXT_CHUNK < entries.length) await new Promise<void>((r) => setImmediate(r));
            }
            const engine: EngineState = { ...ok.engine, entries, exampleText };
            p.resolve({ entries: all, byId, templates: ok.templates, files: ok.files, warnings: ok.warnings, engine });
          })().catch((err: unknown) => p.reject(err instanceof Error ? err : new Error(String(err))));
        }
        else p.reject(new HubError(msg.error.code, msg.error.message, { context: msg.error.context }));
      });
      w.on('error', (err) => fail(err));
      w.on('exit', (code) => fail(new Error(`reload worker exited with code ${code}`)));
    }));
    this.ready = ready;
    return ready;
  }

  /** Starts the worker ahead of the first reload (module loading, segmenter dictionary). */
  warm(): void {
    this.start().then(
      () => this.pending.size === 0 && this.idleSoon(),
      () => undefined,
    );
  }

  /**
   * Loads and trains `dir` in the worker. Rejects with HubError (bad files) or WorkerUnavailable.
   * `background`: the bot answers meanwhile (a hot reload), see ReloadRequest.
   */
  load(dir: string, maxClassifierEntries: number, engine: Partial<EngineOptions> = {}, smallTalk?: SmallTalkPhrases, background = false): Promise<ReloadResult> {
    return this.request({ dir, maxClassifierEntries, engine, smallTalk, background });
  }

  /** Trains an engine for in-memory entries in the worker (the answering thread's heap stays small). */
  async build(entries: EngineEntry[], maxClassifierEntries: number, engine: Partial<EngineOptions> = {}): Promise<EngineState> {
    return (await this.request({ entries, maxClassifierEntries, engine })).engine;
  }

  private async request(body: Omit<ReloadRequest, 'id'>): Promise<ReloadResult> {
    const w = await this.start();
    const id = this.nextId++;
    return new Promise<ReloadResult>((resolve, reject) => {
      this.pending.set(id, { resolve, reject, entries: body.entries, dir: body.dir });
      // Keep the process alive while a reload is in flight, not while the worker idles.
      w.ref();
      const reuse = body.dir === undefined ? undefined : this.held.get(body.dir)?.id;
      const req: ReloadRequest = { id, ...body, ...(reuse === undefined ? {} : { reuse }) };
      w.postMessage(req);
    }).finally(() => {
      if (this.pending.size > 0) return;
      this.worker?.unref();
      this.idleSoon();
    });
  }

  async close(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    const w = this.worker;
    this.worker = undefined;
    this.ready = undefined;
    this.fromBundle = undefined;
    if (w) {
      w.removeAllListeners('exit');
      await w.terminate();
    }
  }
}
