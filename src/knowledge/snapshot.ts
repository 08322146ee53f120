/**
 * One version of the knowledge base as the bot answers from it: the engine, the entries by id and
 * the templates, swapped in as a whole. Built on this thread in async chunks, or in the reload
 * worker (large in-memory bases, watched directories).
 */
import type { Logger } from 'pino';
import type { BotConfig } from './config.js';
import { Engine, type EngineOptions } from './engine.js';
import type { KnowledgeBase } from './loader.js';
import { ReloadWorker, WorkerUnavailable, type ReloadResult } from './reloader.js';
import type { KnowledgeEntry } from './schema.js';
import { mergeTemplates, type Templates } from './templates.js';

/** fromEntries trains bases of at least this many example questions in a worker thread. */
const WORKER_BUILD_MIN_EXAMPLES = 2000;

export interface Snapshot {
  engine: Engine;
  byId: Map<string, KnowledgeEntry>;
  templates: Templates;
  /** What loads but will not work well: logged once per load. */
  warnings: readonly string[];
}

/** The snapshot of a reload worker's result. */
export function snapshotOf(r: ReloadResult): Snapshot {
  return { engine: Engine.fromState(r.engine), byId: r.byId, templates: r.templates ?? mergeTemplates({}), warnings: r.warnings };
}

/** Trains the engine here (in async chunks). */
export async function buildSnapshot(kb: Pick<KnowledgeBase, 'entries' | 'templates' | 'warnings'>, bot: BotConfig, engine?: Partial<EngineOptions>): Promise<Snapshot> {
  const built = await Engine.build(
    kb.entries.map((e) => ({ id: e.id, questions: e.examples })),
    { maxClassifierEntries: bot.maxClassifierEntries, ...engine },
  );
  return { engine: built, byId: new Map(kb.entries.map((e) => [e.id, e])), templates: kb.templates, warnings: kb.warnings };
}

/**
 * An in-memory base (eval, tests): large bases train in a worker thread, so the answering thread's
 * heap does not fill with the training garbage (whose collection would otherwise show up as
 * answer-latency spikes); here when the worker is unavailable, and for small bases.
 */
export async function buildMemorySnapshot(
  kb: Pick<KnowledgeBase, 'entries' | 'templates' | 'warnings'>,
  bot: BotConfig,
  engine: Partial<EngineOptions> | undefined,
  log: Logger | undefined,
): Promise<Snapshot> {
  const examples = kb.entries.reduce((n, e) => n + e.examples.length, 0);
  if (examples >= WORKER_BUILD_MIN_EXAMPLES) {
    const worker = new ReloadWorker({ log });
    try {
      const state = await worker.build(
        kb.entries.map((e) => ({ id: e.id, questions: e.examples })),
        bot.maxClassifierEntries,
        engine ?? {},
      );
      return { engine: Engine.fromState(state), byId: new Map(kb.entries.map((e) => [e.id, e])), templates: kb.templates, warnings: kb.warnings };
    } catch (err) {
      if (!(err instanceof WorkerUnavailable)) throw err;
      log?.warn({ error: err.message }, 'knowledge build worker unavailable; building on the main thread');
    } finally {
      await worker.close();
    }
  }
  return buildSnapshot(kb, bot, engine);
}
