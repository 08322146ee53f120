/**
 * KnowledgeBot: the hub's Responder. Order of checks for a turn:
 *   clarify button -> human request -> anger -> pending slot dialogue -> "that didn't help" ->
 *   empty/emoji-only -> local ranking (+ LLM answerer when configured) -> answer/clarify/escalate.
 * Three strikes: the bot only flags `unresolved: true` (low confidence, "not helpful", slot asked
 * again); the core counts the strikes and escalates with `three_strikes` at `bot.maxStrikes`.
 * The knowledge directory is watched (debounced); a new snapshot (engine + entries + templates)
 * is built off the answering path and swapped in atomically, a broken edit keeps the last good one
 * (live-snapshot.ts). Answering a chosen entry (slots, action) is answer-entry.ts.
 */
import type { Logger } from 'pino';
import { errorMessage, type HubError } from '../core/errors.js';
import type { BotDecision, EscalateDecision, Responder, ResponderTurn } from '../core/responder.js';
import type { Button } from '../core/types.js';
import { answerEntry } from './answer-entry.js';
import { botConfigSchema, type BotConfig } from './config.js';
import { decide } from './decide.js';
import type { EngineOptions } from './engine-options.js';
import { isHumanRequest } from './human.js';
import { LiveSnapshot } from './live-snapshot.js';
import { createLlmAnswerer, type LlmAnswerer, type LlmConfig } from './llm.js';
import type { Ranked } from './ranked.js';
import { entrySchema, pickLocale, type KnowledgeEntry } from './schema.js';
import { sentimentScore } from './sentiment.js';
import { fillSlots, missingSlot, readSlotState, writeSlotState } from './slots.js';
import { SmallTalkMatcher, type SmallTalk } from './small-talk.js';
import { buildMemorySnapshot, type Snapshot } from './snapshot.js';
import { mergeTemplates, text as tpl, type TemplateKey, type Templates } from './templates.js';
import { normalize, segments, warmTokenizer } from './tokenize.js';
import type { z } from 'zod';

/** Button values: `entry:<id>` selects an entry, `entry:__none__` is "none of these". */
export const ENTRY_BUTTON_PREFIX = 'entry:';
export const NONE_BUTTON_VALUE = 'entry:__none__';

const CANCEL = /^(取消|算了|不用了|cancel|never ?mind|stop)[\s.!。！]*$/i;
const MAX_SLOT_ASKS = 3;

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

export class KnowledgeBot implements Responder {
  private readonly live: LiveSnapshot;
  private readonly cfg: BotConfig;
  private readonly smallTalk: SmallTalkMatcher;
  private readonly log: Logger | undefined;
  private readonly llm: LlmAnswerer | undefined;

  private constructor(live: LiveSnapshot, opts: { bot: BotConfig; log?: Logger | undefined; llm?: LlmAnswerer | undefined }) {
    this.live = live;
    // Answering runs here even when the base was built in the reload worker: load the segmenter now,
    // not on the first customer's question.
    warmTokenizer();
    this.cfg = opts.bot;
    this.smallTalk = new SmallTalkMatcher(opts.bot.smallTalk);
    this.log = opts.log;
    this.llm = opts.llm;
  }

  /** Only the LLM reads the conversation's last messages: without one the core need not load them. */
  get usesHistory(): boolean {
    return this.llm !== undefined;
  }

  /** Loads the directory (throws CONFIG_INVALID naming file/line/field) and optionally watches it. */
  static async create(opts: KnowledgeBotOptions): Promise<KnowledgeBot> {
    const bot = botConfigSchema.parse(opts.bot);
    const llm = opts.answerer ?? (opts.llm && bot.useLlm ? createLlmAnswerer(opts.llm, opts.log) : undefined);
    const live = await LiveSnapshot.open(opts.dir, { bot, log: opts.log, engine: opts.engine, watch: opts.watch });
    return new KnowledgeBot(live, { bot, log: opts.log, llm });
  }

  /** A bot over in-memory entries (eval, tests). Entries are validated like YAML ones. */
  static async fromEntries(
    entries: EntryInit[],
    opts: { bot?: Partial<BotConfig>; templates?: Templates; log?: Logger; answerer?: LlmAnswerer | undefined; engine?: Partial<EngineOptions> } = {},
  ): Promise<KnowledgeBot> {
    const bot = botConfigSchema.parse(opts.bot ?? {});
    const parsed: KnowledgeEntry[] = entries.map((raw, i) => {
      const e = entrySchema.parse(raw);
      const examples = Array.isArray(e.questions) ? e.questions : Object.values(e.questions).flat();
      return { ...e, examples, source: { file: '<memory>', line: i + 1 } };
    });
    // In-memory bases (eval, tests) are not linted.
    const kb = { entries: parsed.filter((e) => e.status !== 'pending'), templates: opts.templates ?? mergeTemplates({}), warnings: [] };
    const snapshot = await buildMemorySnapshot(kb, bot, opts.engine, opts.log);
    return new KnowledgeBot(new LiveSnapshot(snapshot, { bot, log: opts.log, engine: opts.engine }), { bot, log: opts.log, llm: opts.answerer });
  }

  /** The last reload error (file/line/field in `context`), cleared by a good reload. */
  get lastError(): HubError | undefined {
    return this.live.lastError;
  }

  get entryCount(): number {
    return this.live.current.engine.size;
  }

  /** Re-reads the directory; resolves false (and keeps the current version) when it is broken. */
  reload(): Promise<boolean> {
    return this.live.reload();
  }

  async close(): Promise<void> {
    await this.live.close();
  }

  /** Top `n` entries for an agent's reply suggestions. */
  suggest(text: string, locale: string, n: number): { entryId: string; question: string; answer: string }[] {
    const snap = this.live.current;
    return this.rankIn(snap, text, n).flatMap((r) => {
      const e = snap.byId.get(r.id);
      return e ? [{ entryId: r.id, question: r.question, answer: pickLocale(e.answer, locale) }] : [];
    });
  }

  /** Ranking only (eval, debugging): what respond() ranks, a leading greeting left out. */
  rank(text: string, n = 5): Ranked[] {
    return this.rankIn(this.live.current, text, n);
  }

  /** The entries for `text` without leading greetings or thanks ("你好，我的快递到哪了"). */
  private rankIn(snap: Snapshot, text: string, n: number, talk: SmallTalk = this.smallTalk.match(text)): Ranked[] {
    return snap.engine.rank(talk.rest || text, n);
  }

  async respond(turn: ResponderTurn): Promise<BotDecision> {
    const snap = this.live.current;
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
      if (entry) return answerEntry({ snap, log: this.log }, entry, { ...turn, state: cleared, text: '' }, 1, {});
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
        return answerEntry({ snap, log: this.log }, pendingEntry, turn, 1, values, sentiment);
      }
      const ranked = this.rankIn(snap, text, 5);
      const verdict = decide(ranked, this.cfg);
      const switched = verdict.kind === 'answer' && verdict.top.id !== pendingEntry.id;
      if (!switched && asking) {
        const asks = pending.asks + 1;
        const prompt = `${tpl(snap.templates, 'slotInvalid', locale, { slot: asking.name })} ${pickLocale(asking.prompt, locale)}`;
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
      if (entry) return answerEntry({ snap, log: this.log }, entry, turn, verdict.top.confidence, {}, sentiment, ids);
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
}
