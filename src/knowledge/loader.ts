/**
 * Reads and validates the knowledge directory: every `*.yaml`/`*.yml` except `_templates.yaml`
 * (customer-facing texts) and files starting with `.`. Errors name file, line and field.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import { HubError } from '../core/errors.js';
import { entrySchema, fileSchema, type KnowledgeEntry } from './schema.js';
import { placeholderMessage } from '../core/templates.js';
import { mergeTemplates, templateProblems, templatesFileSchema, type Templates } from './templates.js';
import { SmallTalkMatcher, smallTalkWarnings, type SmallTalkPhrases } from './small-talk.js';
import { normalize } from './tokenize.js';

export const TEMPLATES_FILE = '_templates.yaml';

/** Whether the loader reads a file of this name (templates included). */
export function isKnowledgeFileName(name: string): boolean {
  return /\.ya?ml$/i.test(name) && !name.startsWith('.');
}

export interface KnowledgeBase {
  entries: KnowledgeEntry[];
  templates: Templates;
  files: string[];
  /** Problems that do not stop loading (see `lintEntries`, `smallTalkWarnings`), each starting with `file:line:`. */
  warnings: string[];
}

interface ParsedFile {
  doc: Document.Parsed;
  lines: LineCounter;
  file: string;
}

function invalid(file: string, line: number, field: string, message: string): HubError {
  return new HubError('CONFIG_INVALID', `${file}:${line}: ${field ? field + ': ' : ''}${message}`, {
    context: { file, line, field },
  });
}

function parseYaml(file: string, source: string): ParsedFile {
  const lines = new LineCounter();
  const doc = parseDocument(source, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const err = doc.errors[0];
  if (err) {
    const line = lines.linePos(err.pos[0]).line;
    throw invalid(file, line, '', `YAML syntax: ${err.message.split('\n')[0]}`);
  }
  return { doc, lines, file };
}

/** Line of the deepest existing node on `path` (1 when the document is empty). */
function lineOf(p: ParsedFile, path: readonly PropertyKey[]): number {
  for (let n = path.length; n >= 0; n--) {
    const node = p.doc.getIn(path.slice(0, n) as (string | number)[], true) as Node | undefined;
    const range = node && typeof node === 'object' && 'range' in node ? node.range : undefined;
    if (range) return p.lines.linePos(range[0]).line;
  }
  return 1;
}

function fieldName(path: readonly PropertyKey[]): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : `${i ? '.' : ''}${String(k)}`)).join('');
}

type Issue = z.core.$ZodIssue;

/** The most specific issue: inside a union, the branch that got furthest down the path. */
function deepest(issue: Issue): { path: PropertyKey[]; message: string } {
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    let best: { path: PropertyKey[]; message: string } | undefined;
    for (const branch of issue.errors) {
      for (const sub of branch) {
        const d = deepest(sub);
        if (!best || d.path.length > best.path.length) best = d;
      }
    }
    if (best && best.path.length > 0) return { path: [...issue.path, ...best.path], message: best.message };
  }
  return { path: issue.path, message: issue.message };
}

function zodError(p: ParsedFile, base: (string | number)[], error: z.ZodError): HubError {
  const first = error.issues[0];
  const issue = first ? deepest(first) : undefined;
  const path = [...base, ...(issue?.path ?? [])];
  const missing = !p.doc.hasIn(path as (string | number)[]);
  return invalid(p.file, lineOf(p, path), fieldName(path), missing ? 'required field is missing' : (issue?.message ?? 'invalid'));
}

/** Entries of one file (pending ones dropped unless asked for). `file` is only used in messages. */
export function parseKnowledgeFile(file: string, source: string, opts: { includePending?: boolean } = {}): KnowledgeEntry[] {
  const p = parseYaml(file, source);
  const raw: unknown = p.doc.toJS();
  if (raw === null || raw === undefined) return [];
  const top = fileSchema.safeParse(raw);
  if (!top.success) throw invalid(file, 1, 'entries', 'expected `entries:` with a list of entries');
  const list = Array.isArray(top.data) ? top.data : top.data.entries;
  const base: (string | number)[] = Array.isArray(top.data) ? [] : ['entries'];
  const out: KnowledgeEntry[] = [];
  list.forEach((item, i) => {
    const r = entrySchema.safeParse(item);
    if (!r.success) throw zodError(p, [...base, i], r.error);
    if (r.data.status === 'pending' && !opts.includePending) return;
    const examples = Array.isArray(r.data.questions) ? r.data.questions : Object.values(r.data.questions).flat();
    out.push({ ...r.data, examples, source: { file, line: lineOf(p, [...base, i]) } });
  });
  return out;
}

export function parseTemplatesFile(file: string, source: string): Templates {
  const p = parseYaml(file, source);
  const raw: unknown = p.doc.toJS() ?? {};
  const r = templatesFileSchema.safeParse(raw);
  if (!r.success) throw zodError(p, [], r.error);
  const problem = templateProblems(r.data)[0];
  if (problem) {
    const path = problem.locale === undefined ? [problem.key] : [problem.key, problem.locale];
    throw invalid(file, lineOf(p, path), fieldName(path), placeholderMessage(problem));
  }
  return mergeTemplates(r.data);
}

/**
 * Parsed files by path, reused while a file's text is unchanged (the reload worker keeps one, so a
 * hot reload after editing one file re-parses only that file).
 */
export type ParseCache = Map<
  string,
  {
    source: string;
    entries?: KnowledgeEntry[];
    templates?: Templates;
    /** The file's small-talk warnings, for the phrases (as JSON) they were computed with. */
    smallTalk?: { phrases: string; warnings: string[] };
  }
>;

/**
 * Fails on the first problem: syntax, schema, or an id defined twice. Warnings also name example
 * questions that are small talk by `smallTalk` (the bot's phrases; the defaults when not given).
 */
export async function loadKnowledgeDir(dir: string, cache?: ParseCache, smallTalk?: SmallTalkPhrases): Promise<KnowledgeBase> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter(isKnowledgeFileName).sort();
  } catch (err) {
    throw new HubError('CONFIG_INVALID', `knowledge directory ${dir} cannot be read`, { cause: err, context: { file: dir } });
  }
  const entries: KnowledgeEntry[] = [];
  const seen = new Map<string, KnowledgeEntry>();
  let templates = mergeTemplates({});
  const files: string[] = [];
  const talk: string[] = [];
  const phrases = JSON.stringify(smallTalk ?? null);
  let matcher: SmallTalkMatcher | undefined;
  for (const name of names) {
    const path = join(dir, name);
    const source = await readFile(path, 'utf8');
    files.push(path);
    const hit = cache?.get(path);
    const cached = hit && hit.source === source ? hit : undefined;
    if (basename(name) === TEMPLATES_FILE) {
      templates = cached?.templates ?? parseTemplatesFile(path, source);
      cache?.set(path, { source, templates });
      continue;
    }
    const parsed = cached?.entries ?? parseKnowledgeFile(path, source);
    // Small talk is judged per example question: an unchanged file keeps its warnings.
    const st = cached?.smallTalk?.phrases === phrases ? cached.smallTalk : { phrases, warnings: smallTalkWarnings(parsed, (matcher ??= new SmallTalkMatcher(smallTalk))) };
    cache?.set(path, { source, entries: parsed, smallTalk: st });
    for (const w of st.warnings) talk.push(w);
    for (const e of parsed) {
      const prev = seen.get(e.id);
      if (prev) {
        throw invalid(e.source.file, e.source.line, 'id', `duplicate id "${e.id}" (first defined at ${prev.source.file}:${prev.source.line})`);
      }
      seen.set(e.id, e);
      entries.push(e);
    }
  }
  if (cache) for (const path of cache.keys()) if (!files.includes(path)) cache.delete(path);
  return { entries, templates, files, warnings: [...lintEntries(entries), ...talk] };
}

/**
 * What loads but will not work well: the same example question (ignoring case, width, spaces and
 * punctuation) under two entries — the engine cannot tell them apart on that question.
 */
export function lintEntries(entries: readonly KnowledgeEntry[]): string[] {
  const warnings: string[] = [];
  const owner = new Map<string, KnowledgeEntry>();
  for (const e of entries) {
    const mine = new Set<string>();
    for (const text of e.examples) {
      const q = questionKey(text);
      if (!q || mine.has(q)) continue;
      mine.add(q);
      const prev = owner.get(q);
      if (prev && prev.id !== e.id) {
        warnings.push(`${e.source.file}:${e.source.line}: questions: "${text}" is also an example of "${prev.id}" (${prev.source.file}:${prev.source.line})`);
      } else owner.set(q, e);
    }
  }
  return warnings;
}

/** Question keys by text: a reload lints mostly the same questions again (bounded like the tokenizer's caches). */
const questionKeys = new Map<string, string>();

function questionKey(q: string): string {
  let key = questionKeys.get(q);
  if (key === undefined) {
    key = normalize(q).replace(/[\p{P}\p{S}\s]+/gu, ' ').trim();
    if (questionKeys.size < 200_000) questionKeys.set(q, key);
  }
  return key;
}
