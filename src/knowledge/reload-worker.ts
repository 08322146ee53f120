/**
 * Worker-thread side of a knowledge reload: reads and validates the YAML directory and builds the
 * engine off the answering thread, then posts back the entries, templates and the engine as typed
 * arrays (transferred, not copied). Loaded by `reloader.ts`.
 */
import { parentPort } from 'node:worker_threads';
import { isHubError } from '../core/errors.js';
import { lowerThreadPriority } from '../core/thread-priority.js';
import { Engine, transferList, type EngineOptions } from './engine.js';
import { AnalysisCache } from './feature-fit.js';
import { loadKnowledgeDir, type ParseCache } from './loader.js';
import type { ReloadReply, ReloadRequest } from './reloader.js';
import type { KnowledgeEntry } from './schema.js';
import { warmTokenizer } from './tokenize.js';

const port = parentPort;

/** Unchanged files are not parsed again (per directory). */
const caches = new Map<string, ParseCache>();
/** Analyzed example questions (per directory): a reload analyzes only new ones. */
const analyses = new Map<string, AnalysisCache>();
/** Entries per JSON chunk (parsing one on the main thread takes well under a millisecond). */
const CHUNK = 200;
/**
 * Per directory, the entry chunks of the last reply (JSON text -> its place in that reply): a
 * chunk the main thread already holds goes back as that place, not as text (ReloadRequest.reuse).
 */
const sent = new Map<string, { id: number; index: Map<string, number> }>();

/** The entries as JSON chunks that never span two files, so an edit changes only its file's chunks. */
function chunksByFile(entries: readonly KnowledgeEntry[]): string[] {
  const out: string[] = [];
  let start = 0;
  for (let i = 1; i <= entries.length; i++) {
    if (i < entries.length && i - start < CHUNK && entries[i]?.source.file === entries[start]?.source.file) continue;
    out.push(JSON.stringify(entries.slice(start, i)));
    start = i;
  }
  return out;
}
/*
 * From the first background reload on, this thread runs below the answering thread
 * (`lowerThreadPriority`): answers first, training in what is left. The first load (nothing to
 * answer from yet) and in-memory builds run at the normal priority until then.
 */

if (port) {
  port.on('message', (req: ReloadRequest) => {
    if (req.background) lowerThreadPriority();
    void (async () => {
      let reply: ReloadReply;
      let transfer: ArrayBuffer[] = [];
      try {
        const opts: Partial<EngineOptions> = { maxClassifierEntries: req.maxClassifierEntries, ...req.engine, yieldEveryMs: null };
        if (req.entries) {
          const engine = (await Engine.build(req.entries, opts)).state;
          transfer = transferList(engine);
          reply = { id: req.id, ok: true, entryChunks: [], templates: undefined, files: [], warnings: [], engine: { ...engine, entries: [], exampleText: [] } };
          port.postMessage(reply, transfer);
          return;
        }
        const dir = req.dir ?? '.';
        let cache = caches.get(dir);
        if (!cache) caches.set(dir, (cache = new Map()));
        const kb = await loadKnowledgeDir(dir, cache, req.smallTalk);
        let analysis = analyses.get(dir);
        if (!analysis) analyses.set(dir, (analysis = new AnalysisCache()));
        const engine = (await Engine.build(kb.entries.map((e) => ({ id: e.id, questions: e.examples })), opts, analysis)).state;
        transfer = transferList(engine);
        // The example texts travel once, inside the entries; the main thread puts them back.
        const chunks = chunksByFile(kb.entries);
        const prev = sent.get(dir);
        const index = prev && req.reuse === prev.id ? prev.index : undefined;
        const entryChunks = chunks.map((c) => index?.get(c) ?? c);
        const base = index ? prev?.id : undefined;
        sent.set(dir, { id: req.id, index: new Map(chunks.map((c, i) => [c, i])) });
        reply = { id: req.id, ok: true, entryChunks, ...(base === undefined ? {} : { base }), templates: kb.templates, files: kb.files, warnings: kb.warnings, engine: { ...engine, entries: [], exampleText: [] } };
      } catch (err) {
        reply = {
          id: req.id,
          ok: false,
          error: isHubError(err)
            ? { code: err.code, message: err.message, context: err.context }
            : { code: 'CONFIG_INVALID', message: err instanceof Error ? err.message : String(err), context: { file: req.dir ?? '<memory>' } },
        };
      }
      port.postMessage(reply, transfer);
    })();
  });
  warmTokenizer();
  // Whether this thread runs the bundle (src/core/thread-bundle.ts) or TypeScript compiled by tsx.
  port.postMessage({ ready: true, bundle: !import.meta.url.endsWith('.ts') });
}
