/**
 * The knowledge directory as a live snapshot: loaded once (in the reload worker when watched, so
 * later reloads re-parse only changed files), then watched (debounced) and rebuilt off the
 * answering path. A new snapshot is swapped in with one assignment; a broken edit keeps the last
 * good one and is reported by `lastError`.
 */
import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from 'pino';
import { HubError, errorMessage, isHubError } from '../core/errors.js';
import type { BotConfig } from './config.js';
import type { EngineOptions } from './engine-options.js';
import { Engine } from './engine.js';
import { loadKnowledgeDir } from './loader.js';
import { ReloadWorker, WorkerUnavailable } from './reloader.js';
import { buildSnapshot, snapshotOf, type Snapshot } from './snapshot.js';

export interface LiveSnapshotOptions {
  bot: BotConfig;
  /** The directory to reload from (none: the snapshot never changes). */
  dir?: string | undefined;
  log?: Logger | undefined;
  engine?: Partial<EngineOptions> | undefined;
  reloader?: ReloadWorker | undefined;
}

export class LiveSnapshot {
  private snapshot: Snapshot;
  private readonly cfg: BotConfig;
  private readonly dir: string | undefined;
  private readonly log: Logger | undefined;
  private readonly engineOpts: Partial<EngineOptions> | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<boolean> = Promise.resolve(true);
  private queued = false;
  private error: HubError | undefined;
  private closed = false;
  /** Reloads run here (off the answering thread); undefined once it proved unavailable. */
  private reloader: ReloadWorker | undefined;

  constructor(snapshot: Snapshot, opts: LiveSnapshotOptions) {
    this.snapshot = snapshot;
    this.reloader = opts.reloader ?? (opts.dir ? new ReloadWorker({ log: opts.log }) : undefined);
    this.cfg = opts.bot;
    this.dir = opts.dir;
    this.log = opts.log;
    this.engineOpts = opts.engine;
  }

  /** Loads `dir` (throws CONFIG_INVALID naming file/line/field), logs its warnings and optionally watches it. */
  static async open(dir: string, opts: { bot: BotConfig; log?: Logger | undefined; engine?: Partial<EngineOptions> | undefined; watch?: boolean | undefined }): Promise<LiveSnapshot> {
    const { bot, log } = opts;
    let snapshot: Snapshot | undefined;
    let files = 0;
    let reloader: ReloadWorker | undefined;
    if (opts.watch) {
      // Watched bases are built in the reload worker from the start: it keeps the parsed files, so
      // the hot reloads that follow re-parse only what changed.
      reloader = new ReloadWorker({ log });
      try {
        const r = await reloader.load(dir, bot.maxClassifierEntries, opts.engine ?? {}, bot.smallTalk);
        snapshot = snapshotOf(r);
        files = r.files.length;
      } catch (err) {
        await reloader.close();
        if (!(err instanceof WorkerUnavailable)) throw err;
        reloader = undefined;
        log?.warn({ dir, error: err.message }, 'knowledge reload worker unavailable; building on the main thread');
      }
    }
    if (!snapshot) {
      const kb = await loadKnowledgeDir(dir, undefined, bot.smallTalk);
      snapshot = await buildSnapshot(kb, bot, opts.engine);
      files = kb.files.length;
    }
    // A directory reloads: its engines are swapped on this thread (Engine.preparePerThread says why).
    await Engine.preparePerThread(opts.engine);
    const live = new LiveSnapshot(snapshot, { bot, dir, log, engine: opts.engine, reloader });
    log?.info({ dir, entries: snapshot.engine.size, files }, 'knowledge base loaded');
    live.warnLint(snapshot);
    if (opts.watch) live.startWatching();
    return live;
  }

  /** The snapshot to answer from (read it once per turn: a reload may swap it between awaits). */
  get current(): Snapshot {
    return this.snapshot;
  }

  /** The last reload error (file/line/field in `context`), cleared by a good reload. */
  get lastError(): HubError | undefined {
    return this.error;
  }

  /** Re-reads the directory; resolves false (and keeps the current version) when it is broken. */
  reload(): Promise<boolean> {
    if (!this.dir) return Promise.resolve(true);
    if (this.queued) return this.chain;
    this.queued = true;
    this.chain = this.chain.then(async () => {
      this.queued = false;
      return this.doReload();
    });
    return this.chain;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.close();
    await this.chain.catch(() => false);
    await this.reloader?.close();
  }

  private async doReload(): Promise<boolean> {
    const dir = this.dir;
    if (!dir || this.closed) return true;
    const started = performance.now();
    try {
      const next = await this.loadSnapshot(dir);
      if (this.closed) return true;
      this.snapshot = next;
      this.error = undefined;
      this.log?.info({ dir, entries: next.engine.size, ms: Math.round(performance.now() - started) }, 'knowledge base reloaded');
      this.warnLint(next);
      return true;
    } catch (err) {
      this.error = isHubError(err) ? err : new HubError('CONFIG_INVALID', errorMessage(err), { cause: err, context: { file: dir } });
      this.log?.error({ dir, code: this.error.code, ...this.error.context, error: this.error.message }, 'knowledge reload failed; keeping the last good version');
      return false;
    }
  }

  /** A new snapshot from `dir`: built in the reload worker, or here (in async chunks) without one. */
  private async loadSnapshot(dir: string): Promise<Snapshot> {
    const worker = this.reloader;
    if (worker) {
      try {
        return snapshotOf(await worker.load(dir, this.cfg.maxClassifierEntries, this.engineOpts ?? {}, this.cfg.smallTalk, true));
      } catch (err) {
        if (!(err instanceof WorkerUnavailable)) throw err;
        this.reloader = undefined;
        this.log?.warn({ dir, error: err.message }, 'knowledge reload worker unavailable; reloading on the main thread');
      }
    }
    const kb = await loadKnowledgeDir(dir, undefined, this.cfg.smallTalk);
    return buildSnapshot(kb, this.cfg, this.engineOpts);
  }

  private startWatching(): void {
    const dir = this.dir;
    if (!dir) return;
    this.reloader?.warm();
    this.watcher = watch(dir, (_event, name) => {
      if (name && !/\.ya?ml$/i.test(String(name))) return;
      if (this.timer) clearTimeout(this.timer);
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.reload();
      }, this.cfg.reloadDebounceMs);
    });
    this.watcher.on('error', (err) => this.log?.warn({ dir, error: errorMessage(err) }, 'knowledge watcher error'));
  }

  /** Logs what loads but will not work well (same question under two entries, small talk as a question), at most 20 lines. */
  private warnLint(snap: Snapshot): void {
    if (!this.log) return;
    const warnings = snap.warnings;
    for (const w of warnings.slice(0, 20)) this.log.warn({ warning: w }, 'knowledge base warning');
    if (warnings.length > 20) this.log.warn({ more: warnings.length - 20 }, 'more knowledge base warnings (npx switchboard config check lists them all)');
  }
}
