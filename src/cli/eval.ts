/**
 * `switchboard eval --kb-csv TRAIN.csv --test-csv TEST.csv [--oos-csv OOS.csv] [--answers-csv A.csv]
 *   [--locale en] [--llm] [--answer-threshold X] [--clarify-threshold X] [--clarify-margin X] [--sweep] [--quiet]`
 *
 * Builds a knowledge base from TRAIN (`text,category`: one entry per category), asks every TEST
 * (and OOS) question through KnowledgeBot.respond — the hub's code path — and prints per-category
 * figures, then as the LAST line a JSON summary:
 *   accuracy        top-ranked entry (entryIds[0]) is right, over all TEST rows, whatever the decision
 *   inScopeAccuracy answered (not escalated/clarified) with the right entry, over all TEST rows
 *   escalatedRate   TEST rows escalated
 *   oosRecall       OOS rows escalated
 *   p50Ms / p99Ms   respond() latency over TEST+OOS rows (after a warm-up on the base's own examples)
 *   ece             expected calibration error of the local top-1 confidence (10 bins)
 * `--sweep` also prints, before the JSON line, the local engine's inScopeAccuracy / escalatedRate /
 * oosRecall for a range of answer thresholds (other thresholds as given): how an admin picks
 * `bot.answerThreshold` for their own base from their own questions.
 */
import { parseArgs } from 'node:util';
import { KnowledgeBot } from '../knowledge/bot.js';
import { botConfigSchema } from '../knowledge/config.js';
import { categoryId, type CsvImport } from '../knowledge/csv-import.js';
import { llmConfigSchema, createLlmAnswerer } from '../knowledge/llm.js';
import { errorMessage } from '../core/errors.js';
import type { BotDecision, ResponderTurn } from '../core/responder.js';
import { decide } from '../knowledge/decide.js';
import type { Ranked } from '../knowledge/engine.js';
import { configPath } from '../config/load.js';
import { loadConfigFile } from '../hub/config-schema.js';
import { csvQuestions, importCsv, InputError, readInput, type CliIo, type QuestionRow } from './input.js';

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
}

/** A decision made before the ranking was consulted: a human request, anger, empty input, "not helpful". */
function settledBeforeRanking(d: BotDecision): boolean {
  if (d.kind === 'escalate') return d.reason !== 'low_confidence';
  return d.kind === 'answer' && !d.entryIds?.length;
}

function verdictOf(v: ReturnType<typeof decide>): { kind: string; id: string | undefined } {
  return { kind: v.kind, id: v.kind === 'answer' ? v.top.id : undefined };
}

/** Gap between top-1 confidence and top-1 accuracy, averaged over 10 confidence bins by size. */
function expectedCalibrationError(rows: readonly { want: string; ranked: readonly Ranked[] }[]): number {
  const bins = Array.from({ length: 10 }, () => ({ n: 0, conf: 0, right: 0 }));
  for (const r of rows) {
    const top = r.ranked[0];
    const conf = top?.confidence ?? 0;
    const b = bins[Math.min(9, Math.floor(conf * 10))];
    if (!b) continue; // a confidence outside 0..1 (none today)
    b.n++;
    b.conf += conf;
    if (top?.id === r.want) b.right++;
  }
  return bins.reduce((e, b) => (b.n ? e + (b.n / Math.max(1, rows.length)) * Math.abs(b.conf - b.right) / b.n : e), 0);
}

function round(n: number, d = 4): number {
  const f = 10 ** d;
  return Math.round(n * f) / f;
}

function turn(i: number, text: string, locale: string): ResponderTurn {
  return { conversationId: `eval-${i}`, customerId: 'eval', channel: 'eval', locale, kind: 'text', text, history: [], state: {}, strikes: 0 };
}

export async function evalCommand(argv: string[], io: CliIo = { out: process.stdout, err: process.stderr }): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        'kb-csv': { type: 'string' },
        'test-csv': { type: 'string' },
        'oos-csv': { type: 'string' },
        'answers-csv': { type: 'string' },
        locale: { type: 'string', default: 'en' },
        llm: { type: 'boolean', default: false },
        'answer-threshold': { type: 'string' },
        'clarify-threshold': { type: 'string' },
        'clarify-margin': { type: 'string' },
        quiet: { type: 'boolean', default: false },
        sweep: { type: 'boolean', default: false },
      },
      allowPositionals: false,
    }).values;
  } catch (err) {
    io.err.write(`${errorMessage(err)}\n`);
    return 2;
  }
  const kbCsv = args['kb-csv'];
  const testCsv = args['test-csv'];
  if (!kbCsv || !testCsv) {
    io.err.write('usage: switchboard eval --kb-csv TRAIN.csv --test-csv TEST.csv [--oos-csv OOS.csv] [--answers-csv A.csv] [--locale en] [--llm] [--answer-threshold X] [--clarify-threshold X] [--clarify-margin X] [--sweep] [--quiet]\n');
    return 2;
  }
  const locale = args.locale ?? 'en';
  const thresholds: Partial<Record<'answerThreshold' | 'clarifyThreshold' | 'clarifyMargin', number>> = {};
  for (const [flag, key] of [
    ['answer-threshold', 'answerThreshold'],
    ['clarify-threshold', 'clarifyThreshold'],
    ['clarify-margin', 'clarifyMargin'],
  ] as const) {
    const raw = args[flag];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
      io.err.write(`--${flag} ${raw}: expected a number from 0 to 1\n`);
      return 2;
    }
    thresholds[key] = n;
  }
  const bot = botConfigSchema.parse(thresholds);

  let entries: CsvImport['entries'];
  let testRows: QuestionRow[];
  let oosRows: QuestionRow[];
  try {
    const base = await readInput('kb-csv', kbCsv);
    const test = await readInput('test-csv', testCsv);
    const answers = args['answers-csv'] === undefined ? undefined : await readInput('answers-csv', args['answers-csv']);
    const oos = args['oos-csv'] === undefined ? undefined : await readInput('oos-csv', args['oos-csv']);
    entries = importCsv(base, answers, locale).entries;
    testRows = csvQuestions(test, ['text', 'category']);
    if (testRows.length === 0) throw new InputError(`--test-csv ${testCsv}: no row has a text`);
    oosRows = oos ? csvQuestions(oos, ['text']) : [];
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    io.err.write(`${err.message}\n`);
    return 2;
  }

  let answerer;
  if (args.llm) {
    const hub = loadConfigFile(configPath());
    // hub.yaml's `llm:` is already validated by loadConfigFile; without one, this names what is missing.
    answerer = createLlmAnswerer(hub.llm ?? llmConfigSchema.parse({}));
  }
  const trainStart = performance.now();
  const kb = await KnowledgeBot.fromEntries(entries, { bot, answerer, engine: { yieldEveryMs: null } });
  const trainMs = performance.now() - trainStart;

  // Warm up on the base's own example questions (never the test rows; the LLM is not asked), so
  // that p50/p99 are those of a running hub rather than of the JIT compiler's first calls.
  const warm = entries.flatMap((e) => (Array.isArray(e.questions) ? e.questions : Object.values(e.questions).flat()));
  for (let i = 0; i < Math.min(300, warm.length); i++) {
    const text = String(warm[(i * 7919) % warm.length]);
    if (answerer) kb.rank(text, 5);
    else await kb.respond(turn(-1 - i, text, locale));
  }

  const latencies: number[] = [];
  const ask = async (i: number, text: string): Promise<BotDecision> => {
    const t0 = performance.now();
    const d = await kb.respond(turn(i, text, locale));
    latencies.push(performance.now() - t0);
    return d;
  };

  const perCat = new Map<string, { n: number; top1: number; answered: number; escalated: number; clarified: number }>();
  let top1 = 0;
  let answeredRight = 0;
  let escalated = 0;
  // For --sweep: the local ranking of each row, or the real decision when respond() settled the
  // turn before ranking (a human request, anger, empty input): no threshold changes those.
  const rankedTest: { want: string; ranked: Ranked[]; fixed?: BotDecision }[] = [];
  const rankedOos: { ranked: Ranked[]; fixed?: BotDecision }[] = [];
  for (const [i, row] of testRows.entries()) {
    const want = categoryId(row.category ?? '');
    const d = await ask(i, row.text);
    rankedTest.push({ want, ranked: kb.rank(row.text, 5), ...(settledBeforeRanking(d) ? { fixed: d } : {}) });
    const c = perCat.get(want) ?? { n: 0, top1: 0, answered: 0, escalated: 0, clarified: 0 };
    c.n++;
    if (d.entryIds?.[0] === want) {
      top1++;
      c.top1++;
    }
    if (d.kind === 'answer' && d.entryIds?.[0] === want) {
      answeredRight++;
      c.answered++;
    }
    if (d.kind === 'escalate') {
      escalated++;
      c.escalated++;
    }
    if (d.kind === 'clarify') c.clarified++;
    perCat.set(want, c);
  }
  let oosEscalated = 0;
  for (const [i, row] of oosRows.entries()) {
    const d = await ask(testRows.length + i, row.text);
    if (d.kind === 'escalate') oosEscalated++;
    if (args.sweep) rankedOos.push({ ranked: kb.rank(row.text, 5), ...(settledBeforeRanking(d) ? { fixed: d } : {}) });
  }
  await kb.close();

  if (!args.quiet) {
    io.out.write('category\tn\ttop1\tanswered_right\tescalated\tclarified\n');
    for (const [cat, c] of [...perCat].sort((a, b) => a[1].top1 / a[1].n - b[1].top1 / b[1].n)) {
      io.out.write(`${cat}\t${c.n}\t${round(c.top1 / c.n, 3)}\t${round(c.answered / c.n, 3)}\t${round(c.escalated / c.n, 3)}\t${round(c.clarified / c.n, 3)}\n`);
    }
  }
  if (args.sweep) {
    io.out.write('answerThreshold\tinScopeAccuracy\tescalatedRate\toosRecall\n');
    for (let t = 20; t <= 95; t += 5) {
      const th = { ...bot, answerThreshold: t / 100 };
      // (The LLM, when configured, is not asked here: this is the local engine's trade-off.)
      let right = 0;
      let esc = 0;
      for (const r of rankedTest) {
        const v = r.fixed ? { kind: r.fixed.kind, id: r.fixed.entryIds?.[0] } : verdictOf(decide(r.ranked, th));
        if (v.kind === 'answer' && v.id === r.want) right++;
        if (v.kind === 'escalate') esc++;
      }
      const oos = rankedOos.filter((r) => (r.fixed ? r.fixed.kind : decide(r.ranked, th).kind) === 'escalate').length;
      const frac = (x: number, of: number): string => (of ? round(x / of, 3).toFixed(3) : '-');
      io.out.write(`${(t / 100).toFixed(2)}\t${frac(right, rankedTest.length)}\t${frac(esc, rankedTest.length)}\t${frac(oos, rankedOos.length)}\n`);
    }
  }
  latencies.sort((a, b) => a - b);
  const n = Math.max(1, testRows.length);
  const summary = {
    accuracy: round(top1 / n),
    inScopeAccuracy: round(answeredRight / n),
    escalatedRate: round(escalated / n),
    oosRecall: oosRows.length ? round(oosEscalated / oosRows.length) : null,
    p50Ms: round(percentile(latencies, 0.5), 3),
    p99Ms: round(percentile(latencies, 0.99), 3),
    entries: entries.length,
    testRows: testRows.length,
    oosRows: oosRows.length,
    trainMs: Math.round(trainMs),
    ece: round(expectedCalibrationError(rankedTest)),
  };
  io.out.write(`${JSON.stringify(summary)}\n`);
  return 0;
}
