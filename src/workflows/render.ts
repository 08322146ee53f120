/**
 * What a step says to a customer: the variables of a run (data fields; for a datetime field `x`,
 * `{{x}}` is its local date and time, `{{x_date}}` and `{{x_time}}` the parts, in the customer's
 * locale and time zone; `customerName`), the text of an inline or named message, and which
 * answer a reply to an `ask` means.
 */
import { fillVars, localeText, type TemplateVars } from '../core/templates.js';
import type { TemplateCatalog } from './texts.js';
import type { AskStep, DataSchema, MessageSource } from './types.js';

export interface RenderContext {
  locale: string;
  timeZone: string;
  customerName?: string;
}

/** Formatters by locale and zone: building one costs more than rendering a whole message. */
const formats = new Map<string, { date: Intl.DateTimeFormat; time: Intl.DateTimeFormat }>();

function make(locale: string, timeZone: string, opts: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  try {
    return new Intl.DateTimeFormat(locale, { timeZone, ...opts });
  } catch {
    return new Intl.DateTimeFormat('en', { timeZone, ...opts });
  }
}

function dateFormats(locale: string, timeZone: string): { date: Intl.DateTimeFormat; time: Intl.DateTimeFormat } {
  const key = `${locale}|${timeZone}`;
  let f = formats.get(key);
  if (!f) {
    f = { date: make(locale, timeZone, { dateStyle: 'long' }), time: make(locale, timeZone, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }) };
    if (formats.size > 1000) formats.clear(); // bounded: locales x zones in use
    formats.set(key, f);
  }
  return f;
}

export function runVars(schema: DataSchema, data: Readonly<Record<string, unknown>>, ctx: RenderContext): Record<string, string | number> {
  const vars: Record<string, string | number> = { customerName: ctx.customerName ?? '' };
  const { date, time } = dateFormats(ctx.locale, ctx.timeZone);
  for (const [name, spec] of Object.entries(schema)) {
    const v = data[name];
    if (v === undefined || v === null) continue;
    if (spec.type === 'datetime' && typeof v === 'string') {
      const d = new Date(v);
      vars[`${name}_date`] = date.format(d);
      vars[`${name}_time`] = time.format(d);
      vars[name] = `${date.format(d)} ${time.format(d)}`;
    } else {
      vars[name] = typeof v === 'number' ? v : String(v);
    }
  }
  return vars;
}

/** The text of a send or ask for this locale, filled; undefined when a named template has no text. */
export function renderMessage(message: MessageSource, vars: TemplateVars, locale: string, templates: TemplateCatalog): string | undefined {
  if ('inline' in message) {
    const text = localeText(message.inline, locale);
    return text === undefined ? undefined : fillVars(text, vars);
  }
  const t = templates.get(message.template);
  const text = t ? localeText(t.text, locale) : undefined;
  if (text === undefined) return undefined;
  const filled: Record<string, string> = {};
  for (const [k, v] of Object.entries(message.vars)) filled[k] = fillVars(v, vars);
  return fillVars(text, filled);
}

function normalize(reply: string): string {
  return reply
    .normalize('NFKC')
    .trim()
    .toLowerCase()
    .replace(/[\s.!?,;:。！？，、]+$/u, '');
}

/** The answer a customer's reply means (`1`, `１`, `Yes!` and `是。` all match), or undefined. */
export function matchChoice(ask: AskStep, reply: string): string | undefined {
  const r = normalize(reply);
  return ask.choices.find((c) => c.replies.some((x) => normalize(x) === r))?.answer;
}
