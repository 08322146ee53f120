/**
 * The one renderer of customer-facing texts: the core's (config/templates/core.yaml) and the
 * knowledge bot's (its code defaults and `_templates.yaml`). A text is one string or one per
 * locale; rendering picks the locale with a fallback and fills `{{var}}` placeholders.
 *
 * Which variables each key takes is declared (`coreTemplateVars` here, the bot's beside its
 * defaults). A text that uses any other `{{...}}` is a load error naming the file, the key and the
 * variable: a typo like `{{opens_at}}` would otherwise reach customers as an empty gap.
 */
import { existsSync, readFileSync } from 'node:fs';
import { LineCounter, isNode, parseDocument } from 'yaml';
import { z } from 'zod';
import { HubError } from './errors.js';

/** One text for every locale, or one per locale (`{ zh: ..., en: ... }`). */
export type LocalizedText = string | Readonly<Record<string, string>>;
export type TemplateVars = Readonly<Record<string, string | number>>;
/** The variables each template key may use (a key not listed takes none). */
export type TemplateVarSpec = Readonly<Record<string, readonly string[]>>;

/** The core's keys and their variables: every `templates.render(key, locale, vars)` call in src. */
export const coreTemplateVars = {
  welcome: [],
  handover: [],
  handover_after_hours: ['opensAt'],
  handover_angry: [],
  /** A waiting customer's next message while no person has the case yet (the console as the only desk). */
  handover_waiting: [],
  bot_error: [],
  csat_question: [],
  csat_thanks: [],
} as const satisfies TemplateVarSpec;

/** The text for `locale`: that locale, its language (`zh` for `zh-CN`), English, Chinese, then the first given. */
export function localeText(text: LocalizedText, locale: string): string | undefined {
  if (typeof text === 'string') return text;
  const short = locale.toLowerCase().slice(0, 2);
  return text[locale] ?? text[short] ?? text.en ?? text.zh ?? Object.values(text)[0];
}

const PLACEHOLDER = /\{\{\s*(\w+)\s*\}\}/g;
/** Anything written as a placeholder, well-formed or not (what the load check looks at). */
const ANY_PLACEHOLDER = /\{\{(.*?)\}\}/g;

/** Fills `{{name}}` from `vars`; a name without a value renders as nothing. */
export function fillVars(text: string, vars: TemplateVars): string {
  return text.replace(PLACEHOLDER, (_m, name: string) => String(vars[name] ?? ''));
}

/** The text for `locale` with its variables filled (undefined when the text has no locale at all). */
export function renderText(text: LocalizedText, locale: string, vars: TemplateVars = {}): string | undefined {
  const picked = localeText(text, locale);
  return picked === undefined ? undefined : fillVars(picked, vars);
}

export interface PlaceholderProblem {
  key: string;
  /** The locale of the text (undefined for a one-string text). */
  locale: string | undefined;
  /** What the text wrote between the braces, trimmed. */
  variable: string;
  /** What the key takes. */
  allowed: readonly string[];
}

/** Placeholders that `texts` use but their key does not provide, in file order. */
export function undeclaredVars(texts: Readonly<Record<string, LocalizedText | undefined>>, spec: TemplateVarSpec): PlaceholderProblem[] {
  const problems: PlaceholderProblem[] = [];
  for (const [key, text] of Object.entries(texts)) {
    if (text === undefined) continue;
    const allowed = Object.hasOwn(spec, key) ? (spec[key] ?? []) : [];
    const byLocale: [string | undefined, string][] = typeof text === 'string' ? [[undefined, text]] : Object.entries(text);
    for (const [locale, s] of byLocale) {
      for (const m of s.matchAll(ANY_PLACEHOLDER)) {
        const variable = (m[1] ?? '').trim();
        if (!allowed.includes(variable)) problems.push({ key, locale, variable, allowed });
      }
    }
  }
  return problems;
}

/** "uses {{x}}, which key does not provide (it takes ...)": the message of a load error. */
export function placeholderMessage(p: PlaceholderProblem): string {
  const takes = p.allowed.length ? `it takes ${p.allowed.map((v) => `{{${v}}}`).join(', ')}` : 'it takes no variables';
  return `uses {{${p.variable}}}, which ${p.key} does not provide (${takes})`;
}

const fileSchema = z.record(z.string(), z.record(z.string(), z.string()));

/** Customer-facing texts of the core per locale, from config/templates/*.yaml, with `{{var}}` placeholders. */
export class Templates {
  constructor(private readonly texts: Record<string, Record<string, string>>) {}

  /**
   * Reads `file` (no file: no texts). Throws CONFIG_INVALID naming the file, line and key when the
   * file is malformed or a text uses a variable its key does not take (`coreTemplateVars`).
   */
  static load(file: string): Templates {
    if (!existsSync(file)) return new Templates({});
    const lines = new LineCounter();
    const doc = parseDocument(readFileSync(file, 'utf8'), { lineCounter: lines });
    if (doc.errors[0]) throw doc.errors[0]; // a YAML syntax error, as yaml's parse() throws it
    const parsed = fileSchema.safeParse(doc.toJS() ?? {});
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new HubError('CONFIG_INVALID', `${file}: ${i?.path.join('.')}: ${i?.message} (each template maps a locale to a text)`);
    }
    const problem = undeclaredVars(parsed.data, coreTemplateVars)[0];
    if (problem) {
      const field = problem.locale === undefined ? problem.key : `${problem.key}.${problem.locale}`;
      const node: unknown = doc.getIn(problem.locale === undefined ? [problem.key] : [problem.key, problem.locale], true);
      const start = isNode(node) ? node.range?.[0] : undefined;
      const line = start === undefined ? 1 : lines.linePos(start).line;
      throw new HubError('CONFIG_INVALID', `${file}:${line}: ${field}: ${placeholderMessage(problem)}`, {
        context: { file, line, field, key: problem.key, variable: problem.variable },
      });
    }
    return new Templates(parsed.data);
  }

  has(key: string): boolean {
    return key in this.texts;
  }

  /** The text in `locale` (else its language, English, Chinese, any); vars fill `{{name}}`. */
  render(key: string, locale: string, vars: TemplateVars = {}): string {
    const t = this.texts[key];
    const text = t === undefined ? undefined : renderText(t, locale, vars);
    if (text === undefined) throw new HubError('CONFIG_INVALID', `template ${key} is missing from config/templates`);
    return text;
  }
}
