/**
 * KnowledgeBot: the hub's Responder. Order of checks for a turn:
 *   clarify button -> human request -> anger -> pending slot dialogue -> "that didn't help" ->
 *   empty/emoji-only -> local ranking (+ LLM answerer when configured) -> answer/clarify/escalate.
 * Three strikes: the bot only flags `unresolved: true` (low confidence, "not helpful", slot asked
 * again); the core counts the strikes and escalates with `three_strikes` at `bot.maxStrikes`.
 * The knowledge directory is watched (debounced); a new snapshot (engine + entries + templates)
 * is built in small async chunks and swapped in atomically, a broken edit keeps the last good one.
 */
import { watch, type FSWatcher } from 'node:fs';
import type { Logger } from 'pino';
import { HubError, errorMessage, isHubError } from '../core/errors.js';
import type { BotDecision, EscalateDecision, Responder, ResponderTurn } from '../core/responder.js';
import type { Button, JsonObject } from '../core/types.js';
import { callAction } from './action.js';
import { botConfigSchema, type BotConfig } from './config.js';
import { decide } from './decide.js';
import { SmallTalkMatcher, type SmallTalk } from './small-talk.js';
import { Engine, type EngineOptions, type Ranked } from './engine.js';
import { ReloadWorker, WorkerUnavailable, type ReloadResult } from './reloader.js';
import { isHumanRequest } from './human.js';
import { createLlmAnswerer, type LlmAnswerer, type LlmConfig } from './llm.js';
import { loadKnowledgeDir, type KnowledgeBase } from './loader.js';
import { entrySchema, fillTemplate, pickLocale, type KnowledgeEntry } from './schema.js';
import { sentimentScore } from './sentiment.js';
import { fillSlots, missingSlot, readSlotState, writeSlotState } from './slots.js';
import { mergeTemplates, text as tpl, type TemplateKey, type Templates } from './templates.js';
import { normalize, segments, warmTokenizer } from './tokenize.js';
import type { z } from 'zod';

/** Button values: `entry:<id>` selects an entry, `entry:__none__` is "none of these". */
export const ENTRY_BUTTON_PREFIX = 'entry:';
export const NONE_BUTTON_VALUE = 'entry:__none__';

const CANCEL = /^(取消|算了|不用了|cancel|never ?mind|stop)[\s.!。！]*$/i;
const MAX_SLOT_ASKS = 3;
/** fromEntries trains bases of at least this many example questions in a worker thread. */
const WORKER_BUILD_MIN_EXAMPLES = 2000;

interface Snapshot {
  engine: Engine;
  byId: Map<string, KnowledgeEntry>;
  templates: Templates;
  /** What loads but will not work well: logged once per load. */
  warnings: readonly string[];
}

export interface KnowledgeBotOptions {
  dir: string;
  bot: BotConfig;
  llm?: LlmConfig;
  log?: Logger;
  watch?: boolean;
  /** Tests and benches: a ready answerer instead of one built from `llm`. */
  answerer?: LlmAnswerer;
  engine?: Partial<EngineOptions>;
}

export type EntryInit = z.input<typeof entrySchema>;

function snapshotOf(r: ReloadResult): Snapshot {
  return { engine: Engine.fromState(r.engine), byId: new Map(r.entries.map((e) => [e.id, e])), templates: r.templates ?? mergeTemplates({}), warnings: r.warnings };
}

async function buildSnapshot(kb: Pick<KnowledgeBase, 'entries' | 'templates' | 'warnings'>, bot: BotConfig, engine?: Partial<EngineOptions>): Promise<Snapshot> {
  const built = await Engine.build(
    kb.entries.map((e) => ({ id: e.id, questions: e.examples })),
    { maxClassifierEntries: bot.maxClassifierEntries, ...engine },
  );
  return { engine: built, byId: new Map(kb.entries.map((e) => [e.id, e])), templates: kb.templates, warnings: kb.warnings };
}

export class KnowledgeBot implements Responder {
  private snapshot: Snapshot;
  private readonly cfg: BotConfig;
  private readonly smallTalk: SmallTalkMatcher;
  private readonly dir: string | undefined;
  private readonly log: Logger | undefined;
  private readonly llm: LlmAnswerer | undefined;
  private readonly engineOpts: Partial<EngineOptions> | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<boolean> = Promise.resolve(true);
  private queued = false;
  private error: HubError | undefined;
  private closed = false;
  /** Reloads run here (off the answering thread); undefined once it proved unavailable. */
  private reloader: ReloadWorker | undefined;

  private constructor(
    snapshot: Snapshot,
    opts: { bot: BotConfig; dir?: string; log?: Logger; llm?: LlmAnswerer; engine?: Partial<EngineOptions>; reloader?: ReloadWorker },
  ) {
    this.snapshot = snapshot;
    // Answering runs here even when the base was built in the reload worker: load the segmenter now,
    // not on the first customer's question.
    warmTokenizer();
    this.reloader = opts.reloader ?? (opts.dir ? new ReloadWorker() : undefined);
    this.cfg = opts.bot;
    this.smallTalk = new SmallTalkMatcher(opts.bot.smallTalk);
    this.dir = opts.dir;
    this.log = opts.log;
    this.llm = opts.llm;
    this.engineOpts = opts.engine;
  }

  /** Loads the directory (throws CONFIG_INVALID naming file/line/field) and optionally watches it. */
  static async create(opts: KnowledgeBotOptions): Promise<KnowledgeBot> {
    const bot = botConfigSchema.parse(opts.bot);
    const llm = opts.answerer ?? (opts.llm && bot.useLlm ? createLlmAnswerer(opts.llm, opts.log) : undefined);
    let snapshot: Snapshot;
    let files: number;
    let reloader: ReloadWorker | undefined;
    if (opts.watch) {
      // Watched bases are built in the reload worker from the start: it keeps the parsed files, so
      // the hot reloads that follow re-parse only what changed.
      reloader = new ReloadWorker();
      try {
        const r = await reloader.load(opts.dir, bot.maxClassifierEntries, opts.engine ?? {}, bot.smallTalk);
        snapshot = snapshotOf(r);
        files = r.files.length;
      } catch (err) {
        await reloader.close();
        if (!(err instanceof WorkerUnavailable)) throw err;
        reloader = undefined;
        opts.log?.warn({ dir: opts.dir, error: err.message }, 'knowledge reload worker unavailable; building on the main thread');
      }
    }
    if (!snapshot!) {
      const kb = await loadKnowledgeDir(opts.dir, undefined, bot.smallTalk);
      snapshot = await buildSnapshot(kb, bot, opts.engine);
      files = kb.files.length;
    }
    const kbot = new KnowledgeBot(snapshot, { bot, dir: opts.dir, log: opts.log, llm, engine: opts.engine, reloader });
    opts.log?.info({ dir: opts.dir, entries: snapshot.engine.size, files: files! }, 'knowledge base loaded');
    kbot.warnLint(snapshot);
    if (opts.watch) kbot.startWatching();
    return kbot;
  }

  /** A bot over in-memory entries (eval, tests). Entries are validated like YAML ones. */
  static async fromEntries(
    entries: EntryInit[],
    opts: { bot?: Partial<BotConfig>; templates?: Templates; log?: Logger; answerer?: LlmAnswerer; engine?: Partial<EngineOptions> } = {},
  ): Promise<KnowledgeBot> {
    const bot = botConfigSchema.parse(opts.bot ?? {});
    const parsed: KnowledgeEntry[] = entries.map((raw, i) => {
      const e = entrySchema.parse(raw);
      const examples = Array.isArray(e.questions) ? e.questions : Object.values(e.questions).flat();
      return { ...e, examples, source: { file: '<memory>', line: i + 1 } };
    });
    // In-memory bases (eval, tests) are not linted.
    const kb = { entries: parsed.filter((e) => e.status !== 'pending'), templates: opts.templates ?? mergeTemplates({}), warnings: [] };
    const examples = kb.entries.reduce((n, e) => n + e.examples.length, 0);
    let snapshot: Snapshot | undefined;
    if (examples >= WORKER_BUILD_MIN_EXAMPLES) {
      // Large bases train in a worker thread: the answering thread's heap does not fill with the
      // training garbage (whose collection would otherwise show up as answer-latency spikes).
      const worker = new ReloadWorker();
      try {
        const state = await worker.build(
          kb.entries.map((e) => ({ id: e.id, questions: e.examples })),
          bot.maxClassifierEntries,
          opts.engine ?? {},
        );
        snapshot = { engine: Engine.fromState(state), byId: new Map(kb.entries.map((e) => [e.id, e])), templates: kb.templates, warnings: kb.warnings };
      } catch (err) {
        if (!(err instanceof WorkerUnavailable)) throw err;
        opts.log?.warn({ error: err.message }, 'knowledge build worker unavailable; building on the main thread');
      } finally {
        await worker.close();
      }
    }
    snapshot ??= await buildSnapshot(kb, bot, opts.engine);
    return new KnowledgeBot(snapshot, { bot, log: opts.log, llm: opts.answerer, engine: opts.engine });
  }

  /** The last reload error (file/line/field in `context`), cleared by a good reload. */
  get lastError(): HubError | undefined {
    return this.error;
  }

  get entryCount(): number {
    return this.snapshot.engine.size;
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
        return snapshotOf(await worker.load(dir, this.cfg.maxClassifierEntries, this.engineOpts ?? {}, this.cfg.smallTalk));
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

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.watcher?.close();
    await this.chain.catch(() => false);
    await this.reloader?.close();
  }

  /** Logs what loads but will not work well (same question under two entries, small talk as a question), at most 20 lines. */
  private warnLint(snap: Snapshot): void {
    if (!this.log) return;
    const warnings = snap.warnings;
    for (const w of warnings.slice(0, 20)) this.log.warn({ warning: w }, 'knowledge base warning');
    if (warnings.length > 20) this.log.warn({ more: warnings.length - 20 }, 'more knowledge base warnings (npx switchboard config check lists them all)');
  }

  /** Top `n` entries for an agent's reply suggestions. */
  suggest(text: string, locale: string, n: number): { entryId: string; question: string; answer: string }[] {
    const snap = this.snapshot;
    return this.rankIn(snap, text, n).flatMap((r) => {
      const e = snap.byId.get(r.id);
      return e ? [{ entryId: r.id, question: r.question, answer: pickLocale(e.answer, locale) }] : [];
    });
  }

  /** Ranking only (eval, debugging): what respond() ranks, a leading greeting left out. */
  rank(text: string, n = 5): Ranked[] {
    return this.rankIn(this.snapshot, text, n);
  }

  /** The entries for `text` without leading greetings or thanks ("你好，我的快递到哪了"). */
  private rankIn(snap: Snapshot, text: string, n: number, talk: SmallTalk = this.smallTalk.match(text)): Ranked[] {
    return snap.engine.rank(talk.rest || text, n);
  }

  async respond(turn: ResponderTurn): Promise<BotDecision> {
    const snap = this.snapshot;
    try {
      return await this.respondWith(snap, turn);
    } catch (err) {
      this.log?.error({ conversationId: turn.conversationId, error: errorMessage(err) }, 'knowledge bot failed');
      return { kind: 'escalate', reason: 'bot_error', priority: 'normal', confidence: 0 };
    }
  }

  private t(snap: Snapshot, key: TemplateKey, locale: string): string {
    return tpl(snap.templates, key, locale);
  }

  private async respondWith(snap: Snapshot, turn: ResponderTurn): Promise<BotDecision> {
    const locale = turn.locale;
    const value = turn.kind === 'button' ? (turn.buttonValue ?? '') : '';
    if (value.startsWith(ENTRY_BUTTON_PREFIX)) {
      const cleared = writeSlotState(turn.state, undefined);
      if (value === NONE_BUTTON_VALUE) {
        return { kind: 'escalate', reason: 'low_confidence', priority: 'normal', text: this.t(snap, 'lowConfidence', locale), unresolved: true, confidence: 0, state: cleared };
      }
      const entry = snap.byId.get(value.slice(ENTRY_BUTTON_PREFIX.length));
      if (entry) return this.answerEntry(snap, entry, { ...turn, state: cleared, text: '' }, 1, {});
    }
    const text = turn.text ?? '';
    let sentiment = 0;
    try {
      sentiment = sentimentScore(text);
    } catch {
      sentiment = 0;
    }
    // Hand-overs still carry the best-matching entries: the agent desk shows them as context.
    const handOverIds = (): string[] => this.rankIn(snap, text, 3).map((r) => r.id);
    if (isHumanRequest(text, this.cfg.humanKeywords)) {
      return { kind: 'escalate', reason: 'asked_for_human', priority: 'normal', text: this.t(snap, 'askHuman', locale), sentiment, entryIds: handOverIds(), state: writeSlotState(turn.state, undefined) };
    }
    if (sentiment <= this.cfg.angerThreshold) {
      return { kind: 'escalate', reason: 'angry', priority: 'high', text: this.t(snap, 'angry', locale), sentiment, entryIds: handOverIds(), state: writeSlotState(turn.state, undefined) };
    }

    const pending = readSlotState(turn.state);
    const pendingEntry = pending ? snap.byId.get(pending.entryId) : undefined;
    if (pending && pendingEntry) {
      if (CANCEL.test(text.trim())) {
        return { kind: 'answer', text: this.t(snap, 'cancelled', locale), sentiment, state: writeSlotState(turn.state, undefined) };
      }
      const asking = missingSlot(pendingEntry, pending.values);
      const values = fillSlots(pendingEntry, pending.values, text, asking?.name);
      if (asking && values[asking.name] !== undefined) {
        return this.answerEntry(snap, pendingEntry, turn, 1, values, sentiment);
      }
      const ranked = this.rankIn(snap, text, 5);
      const verdict = decide(ranked, this.cfg);
      const switched = verdict.kind === 'answer' && verdict.top.id !== pendingEntry.id;
      if (!switched && asking) {
        const asks = pending.asks + 1;
        const prompt = `${fillTemplate(this.t(snap, 'slotInvalid', locale), { slot: asking.name })} ${pickLocale(asking.prompt, locale)}`;
        return {
          kind: 'answer',
          text: prompt,
          sentiment,
          entryIds: [pendingEntry.id],
          unresolved: asks >= MAX_SLOT_ASKS,
          state: writeSlotState(turn.state, asks >= MAX_SLOT_ASKS ? undefined : { ...pending, values, asks }),
        };
      }
      turn = { ...turn, state: writeSlotState(turn.state, undefined) };
    }

    if (this.notHelpful(text)) {
      return { kind: 'answer', text: this.t(snap, 'notHelpful', locale), sentiment, unresolved: true, confidence: 0, state: writeSlotState(turn.state, undefined) };
    }
    if (segments(normalize(text)).length === 0) {
      return { kind: 'answer', text: this.t(snap, 'empty', locale), sentiment, confidence: 0 };
    }
    // "你好" / "thanks" / "ok" alone get a short reply; "你好，我的快递到哪了" is looked up without "你好".
    const talk = this.smallTalk.match(text);
    if (talk.kind && talk.rest === '') return { kind: 'answer', text: this.t(snap, talk.kind, locale), sentiment, state: writeSlotState(turn.state, undefined) };

    const ranked = this.rankIn(snap, text, Math.max(5, this.cfg.llmTopK), talk);
    const verdict = decide(ranked, this.cfg);
    const ids = ranked.map((r) => r.id);
    const confidence = ranked[0]?.confidence ?? 0;

    if (this.llm) {
      const top = verdict.kind === 'answer' ? snap.byId.get(verdict.top.id) : undefined;
      const local = top !== undefined && (top.slots?.length || top.action);
      if (!local) {
        const llmDecision = await this.askLlm(snap, turn, text, ranked, sentiment);
        if (llmDecision) return llmDecision;
      }
    }

    if (verdict.kind === 'answer') {
      const entry = snap.byId.get(verdict.top.id);
      if (entry) return this.answerEntry(snap, entry, turn, verdict.top.confidence, {}, sentiment, ids);
    }
    if (verdict.kind === 'clarify') {
      const buttons: Button[] = verdict.options.map((r) => ({ label: this.entryLabel(snap, r, locale), value: ENTRY_BUTTON_PREFIX + r.id }));
      buttons.push({ label: locale.startsWith('zh') ? '都不是' : 'None of these', value: NONE_BUTTON_VALUE });
      return { kind: 'clarify', text: this.t(snap, 'clarify', locale), buttons, confidence, entryIds: ids, sentiment, unresolved: false };
    }
    return this.lowConfidence(snap, locale, confidence, ids, sentiment);
  }

  private lowConfidence(snap: Snapshot, locale: string, confidence: number, ids: string[], sentiment: number): EscalateDecision {
    return { kind: 'escalate', reason: 'low_confidence', priority: 'normal', text: this.t(snap, 'lowConfidence', locale), confidence, entryIds: ids, sentiment, unresolved: true };
  }

  /** The entry's first example in the customer's locale, as a button label. */
  private entryLabel(snap: Snapshot, r: Ranked, locale: string): string {
    const e = snap.byId.get(r.id);
    if (!e) return r.question;
    const q = e.questions;
    if (Array.isArray(q)) return q[0] ?? r.question;
    const short = locale.slice(0, 2);
    return (q[locale] ?? q[short] ?? [r.question])[0] ?? r.question;
  }

  private notHelpful(text: string): boolean {
    const t = text.normalize('NFKC').toLowerCase().replace(/[’]/g, "'");
    if (t.length > 80) return false;
    return this.cfg.notHelpfulPhrases.some((p) => t.includes(p.toLowerCase()));
  }

  private async askLlm(snap: Snapshot, turn: ResponderTurn, text: string, ranked: Ranked[], sentiment: number): Promise<BotDecision | undefined> {
    const llm = this.llm;
    if (!llm) return undefined;
    const entries = ranked.slice(0, this.cfg.llmTopK).flatMap((r) => {
      const e = snap.byId.get(r.id);
      return e ? [{ id: e.id, question: r.question, answer: pickLocale(e.answer, turn.locale) }] : [];
    });
    try {
      const res = await llm.answer({ question: text, locale: turn.locale, entries, history: turn.history });
      const confidence = ranked[0]?.confidence ?? 0;
      if (res.kind === 'none') return this.lowConfidence(snap, turn.locale, confidence, ranked.map((r) => r.id), sentiment);
      return { kind: 'answer', text: res.text, entryIds: res.entryIds, confidence: Math.max(confidence, 0.5), sentiment, state: writeSlotState(turn.state, undefined) };
    } catch (err) {
      this.log?.warn({ conversationId: turn.conversationId, error: errorMessage(err) }, 'llm answer failed; using the local engine');
      return undefined;
    }
  }

  /** Answers one entry, running its slot dialogue and action when it has them. */
  private async answerEntry(
    snap: Snapshot,
    entry: KnowledgeEntry,
    turn: ResponderTurn,
    confidence: number,
    prior: Record<string, string>,
    sentiment?: number,
    ranked?: string[],
  ): Promise<BotDecision> {
    const locale = turn.locale;
    const entryIds = [entry.id, ...(ranked ?? []).filter((id) => id !== entry.id)];
    const buttons = entry.buttons?.map((b) => ({ label: pickLocale(b.label, locale), value: b.value }));
    const base = { confidence, entryIds, ...(sentiment !== undefined ? { sentiment } : {}) };
    if (!entry.slots?.length && !entry.action) {
      return { kind: 'answer', text: pickLocale(entry.answer, locale), ...(buttons?.length ? { buttons } : {}), ...base, state: writeSlotState(turn.state, undefined) };
    }
    const values = fillSlots(entry, prior, turn.text ?? '');
    const missing = missingSlot(entry, values);
    if (missing) {
      return { kind: 'answer', text: pickLocale(missing.prompt, locale), ...base, state: writeSlotState(turn.state, { entryId: entry.id, values, asks: 1 }) };
    }
    const cleared: JsonObject = writeSlotState(turn.state, undefined);
    if (!entry.action) {
      return { kind: 'answer', text: fillTemplate(pickLocale(entry.answer, locale), values), ...(buttons?.length ? { buttons } : {}), ...base, state: cleared };
    }
    try {
      const result = await callAction(entry.action, values);
      const text = fillTemplate(pickLocale(entry.answer, locale), { ...result, ...values, result });
      return { kind: 'answer', text, ...(buttons?.length ? { buttons } : {}), ...base, state: cleared };
    } catch (err) {
      this.log?.warn({ conversationId: turn.conversationId, entryId: entry.id, error: errorMessage(err) }, 'knowledge action failed');
      const escalate = entry.onActionFailure?.escalate ?? true;
      const custom = entry.onActionFailure?.text;
      const text = custom ? pickLocale(custom, locale) : this.t(snap, escalate ? 'actionFailedEscalate' : 'actionFailed', locale);
      if (escalate) return { kind: 'escalate', reason: 'action_failed', priority: 'normal', text, ...base, state: cleared };
      return { kind: 'answer', text, ...base, unresolved: true, state: cleared };
    }
  }
}
