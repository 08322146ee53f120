/**
 * Customer texts of a workflow: inline per locale (`{ zh: …, en: … }`) or a template of
 * config/templates/messages.yaml. Every `{{name}}` must be a variable the run will have: a field
 * of the trigger's data, `<datetime field>_date` / `_time`, or a built-in (`customerName`).
 */
import { MessageTemplates } from '../api/templates.js';
import type { LocalizedText } from '../core/templates.js';
import { isRecord, readMapping, type Path, type WorkflowSource } from './source.js';
import { BUILTIN_VARS, type DataSchema, type MessageSource } from './types.js';

const ANY_PLACEHOLDER = /\{\{(.*?)\}\}/g;
const LOCALE = /^[a-z]{2}(-[A-Za-z0-9]{2,8})?$/;

/** The variables texts of a workflow with this trigger data may use. */
export function textVariables(data: DataSchema): string[] {
  const vars: string[] = [...BUILTIN_VARS];
  for (const [name, spec] of Object.entries(data)) {
    vars.push(name);
    if (spec.type === 'datetime') vars.push(`${name}_date`, `${name}_time`);
  }
  return vars;
}

/** Placeholder names of a text (as written, trimmed). */
export function placeholders(text: string): string[] {
  return [...text.matchAll(ANY_PLACEHOLDER)].map((m) => (m[1] ?? '').trim());
}

function checkPlaceholders(src: WorkflowSource, path: Path, text: string, vars: readonly string[]): void {
  for (const name of placeholders(text)) {
    if (!vars.includes(name)) {
      src.problem(path, `{{${name}}} is not a field of the trigger's data (the texts may use ${vars.map((v) => `{{${v}}}`).join(', ')})`);
    }
  }
}

/** A text: one string, or a mapping of locale (`zh`, `en`, `zh-CN`) to string. */
export function readText(src: WorkflowSource, path: Path, value: unknown, vars: readonly string[]): LocalizedText | undefined {
  if (typeof value === 'string') {
    checkPlaceholders(src, path, value, vars);
    return value;
  }
  if (!isRecord(value) || Object.keys(value).length === 0) {
    src.problem(path, 'must be a text, or one text per locale ({ zh: "…", en: "…" })');
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const [locale, s] of Object.entries(value)) {
    if (!LOCALE.test(locale)) src.problem([...path, locale], `"${locale}" is not a locale (zh, en, zh-CN, …)`);
    else if (typeof s !== 'string' || s.trim() === '') src.problem([...path, locale], 'must be a non-empty text (quote it if it starts with { or [)');
    else {
      checkPlaceholders(src, [...path, locale], s, vars);
      out[locale] = s;
    }
  }
  return Object.freeze(out);
}

/** A template of config/templates/messages.yaml: its texts and the variables they use (sorted). */
export interface CatalogTemplate {
  readonly text: LocalizedText;
  readonly vars: readonly string[];
}
export type TemplateCatalog = ReadonlyMap<string, CatalogTemplate>;

/** The templates of messages.yaml (no file: none), read and checked by the API's own loader. */
export function readTemplateCatalog(file: string, text?: string | null): TemplateCatalog {
  return (text === undefined ? MessageTemplates.load(file) : MessageTemplates.parse(file, text)).all();
}

/**
 * The message of a send or ask: `text:` (inline) or `template:` with optional `vars:` (a template
 * variable without a `vars:` entry takes the data field or built-in of the same name).
 */
export function readMessage(
  src: WorkflowSource,
  path: Path,
  body: Record<string, unknown>,
  vars: readonly string[],
  templates: TemplateCatalog,
  templatesFile: string,
): MessageSource | undefined {
  const hasText = body.text !== undefined;
  const hasTemplate = body.template !== undefined;
  if (hasText === hasTemplate) {
    src.problem(path, hasText ? 'give text or template, not both' : 'give the message: text: { zh: "…", en: "…" } or template: <name in config/templates/messages.yaml>');
    return undefined;
  }
  if (hasText) {
    if (body.vars !== undefined) src.problem([...path, 'vars'], 'vars go with template:, an inline text uses the placeholders directly');
    const text = readText(src, [...path, 'text'], body.text, vars);
    return text === undefined ? undefined : { inline: text };
  }
  const name = body.template;
  const takes = typeof name === 'string' ? templates.get(name)?.vars : undefined;
  if (typeof name !== 'string' || takes === undefined) {
    const known = [...templates.keys()];
    src.problem([...path, 'template'], `no template ${JSON.stringify(name)} in ${templatesFile}${known.length ? ` (it has ${known.join(', ')})` : ' (no templates there)'}`);
    return undefined;
  }
  const given: Record<string, string> = {};
  if (body.vars !== undefined) {
    const map = readMapping(src, [...path, 'vars'], body.vars, takes, `template ${name}'s vars`);
    for (const [k, v] of Object.entries(map ?? {})) {
      if (!takes.includes(k)) continue;
      if (typeof v !== 'string' && typeof v !== 'number') src.problem([...path, 'vars', k], 'must be a text (it may use {{placeholders}})');
      else {
        checkPlaceholders(src, [...path, 'vars', k], String(v), vars);
        given[k] = String(v);
      }
    }
  }
  for (const v of takes) {
    if (given[v] !== undefined) continue;
    if (vars.includes(v)) given[v] = `{{${v}}}`;
    else src.problem([...path, 'template'], `template ${name} uses {{${v}}}, which is not a field of the trigger's data: add vars: { ${v}: "…" } (texts there may use ${vars.map((x) => `{{${x}}}`).join(', ')})`);
  }
  return { template: name, vars: Object.freeze(given) };
}
