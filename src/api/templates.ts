/**
 * The business's message templates for `POST /api/messages` (`{ template, vars }`), from
 * `config/templates/messages.yaml`: each key maps to one text or one per locale, with `{{name}}`
 * placeholders. The variables a template takes are the placeholders its texts use; a request must
 * give exactly those (a missing one would reach the customer as a gap, an unknown one is a typo).
 */
import { existsSync, readFileSync } from 'node:fs';
import { LineCounter, isNode, parseDocument } from 'yaml';
import { z } from 'zod';
import { HubError } from '../core/errors.js';
import { renderText, type LocalizedText, type TemplateVars } from '../core/templates.js';

const fileSchema = z.record(z.string(), z.union([z.string(), z.record(z.string(), z.string())]));
const PLACEHOLDER = /\{\{(.*?)\}\}/g;
const NAME = /^\w+$/;

export interface MessageTemplate {
  text: LocalizedText;
  /** The placeholders its texts use, sorted. */
  vars: readonly string[];
}

/** A request's template problem: which field of the body, and what is wrong. */
export class TemplateRequestError extends HubError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super('INPUT_INVALID', message, { context: { field } });
  }
}

/** Where a templates file goes wrong: the key (and locale) of the first text that is not a string. */
function badPath(data: unknown): string[] | undefined {
  if (!data || typeof data !== 'object' || Array.isArray(data)) return [];
  for (const [key, text] of Object.entries(data)) {
    if (typeof text === 'string') continue;
    if (!text || typeof text !== 'object' || Array.isArray(text)) return [key];
    for (const [locale, s] of Object.entries(text)) if (typeof s !== 'string') return [key, locale];
  }
  return undefined;
}

export class MessageTemplates {
  private constructor(
    readonly file: string,
    private readonly templates: ReadonlyMap<string, MessageTemplate>,
  ) {}

  /** Reads `file` (none: no templates). Throws CONFIG_INVALID naming file, line and key for a bad text. */
  static load(file: string): MessageTemplates {
    return MessageTemplates.parse(file, existsSync(file) ? readFileSync(file, 'utf8') : null);
  }

  /** The templates of `text`, read as `file` (null: no file, no templates); throws like `load`. */
  static parse(file: string, text: string | null): MessageTemplates {
    if (text === null) return new MessageTemplates(file, new Map());
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines });
    const lineOf = (path: string[]): number => {
      const node: unknown = doc.getIn(path, true);
      const start = isNode(node) ? node.range?.[0] : undefined;
      return start === undefined ? 1 : lines.linePos(start).line;
    };
    if (doc.errors[0]) throw new HubError('CONFIG_INVALID', `${file}: ${doc.errors[0].message}`, { cause: doc.errors[0] });
    const data: unknown = doc.toJS() ?? {};
    const parsed = fileSchema.safeParse(data);
    if (!parsed.success) {
      const path = badPath(data) ?? (parsed.error.issues[0]?.path ?? []).map(String);
      const where = path.length ? `${path.join('.')}: ` : '';
      throw new HubError('CONFIG_INVALID', `${file}:${lineOf(path)}: ${where}a template is one text, or a map of locale to text (e.g. en: ..., zh: ...)`, {
        context: { file, field: path.join('.') },
      });
    }
    const templates = new Map<string, MessageTemplate>();
    for (const [key, text] of Object.entries(parsed.data)) {
      const vars = new Set<string>();
      const byLocale: [string | undefined, string][] = typeof text === 'string' ? [[undefined, text]] : Object.entries(text);
      for (const [locale, s] of byLocale) {
        for (const m of s.matchAll(PLACEHOLDER)) {
          const name = (m[1] ?? '').trim();
          if (!NAME.test(name)) {
            const path = locale === undefined ? [key] : [key, locale];
            throw new HubError('CONFIG_INVALID', `${file}:${lineOf(path)}: ${path.join('.')}: "{{${m[1] ?? ''}}}" is not a placeholder (write {{name}} with letters, digits or _)`, {
              context: { file, field: path.join('.') },
            });
          }
          vars.add(name);
        }
      }
      templates.set(key, { text, vars: [...vars].sort() });
    }
    return new MessageTemplates(file, templates);
  }

  /** Every template with its texts and variables (what the workflows check their messages against). */
  all(): ReadonlyMap<string, MessageTemplate> {
    return this.templates;
  }

  names(): string[] {
    return [...this.templates.keys()];
  }

  /**
   * The text of `name` in `locale` with `vars` filled. Throws TemplateRequestError naming
   * `body.template` (unknown) or `body.vars.<name>` (missing or not used by the template).
   */
  render(name: string, locale: string, vars: TemplateVars): string {
    const t = this.templates.get(name);
    if (!t) {
      const known = this.names();
      throw new TemplateRequestError('body.template', `no template "${name}" in ${this.file}${known.length ? ` (it has ${known.join(', ')})` : ' (the file has no templates)'}`);
    }
    const missing = t.vars.find((v) => !Object.hasOwn(vars, v));
    if (missing) throw new TemplateRequestError(`body.vars.${missing}`, `template "${name}" needs vars.${missing} (it takes ${t.vars.join(', ')})`);
    const extra = Object.keys(vars).find((v) => !t.vars.includes(v));
    if (extra) {
      const takes = t.vars.length ? `it takes ${t.vars.join(', ')}` : 'it takes no variables';
      throw new TemplateRequestError(`body.vars.${extra}`, `template "${name}" does not use vars.${extra} (${takes})`);
    }
    return renderText(t.text, locale, vars) ?? '';
  }
}
