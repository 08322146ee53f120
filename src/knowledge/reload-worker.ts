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
import { warmTokenizer } from './tokenize.js';

const port = parentPort;

/** Unchanged files are not parsed again (per directory). */
const caches = new Map<string, ParseCache>();
/** Analyzed example questions (per directory): a reload analyzes only new ones. */
const analyses = new Map<string, AnalysisCache>();
/** Entries per JSON chunk (parsing one on the main thread takes well under a millisecond). */
const CHUNK = 200;
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
        const entryChunks: string[] = [];
        for (let i = 0; i < kb.entries.length; i += CHUNK) entryChunks.push(JSON.stringify(kb.entries.slice(i, i + CHUNK)));
        reply = { id: req.id, ok: true, entryChunks, templates: kb.templates, files: kb.files, warnings: kb.warnings, engine: { ...engine, entries: [], exampleText: [] } };
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
  port.postMessage({ ready: true });
}
