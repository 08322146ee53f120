/**
 * Slot values in an action's URL template (`https://shop.example/api/orders/{{order_no}}/status?q={{q}}`).
 *
 * Each `{{var}}` fills exactly one path segment (or part of one), one query value or the fragment:
 * the value is encoded with `encodeURIComponent`, and a value that could still move the request
 * elsewhere is refused before any call — `.` / `..` (dot segments, which the URL parser folds:
 * `/api/orders/../status` is `/api/status`), `/`, `\`, `?`, `#`, control characters, the same
 * hidden behind percent-escapes (`%2e%2e`, `%2F`), and an empty path segment. Slots in the scheme
 * or host are refused when the knowledge file loads; at call time the filled URL must keep the
 * template's origin.
 */
import { HubError } from '../core/errors.js';

const SLOT = /\{\{\s*([\w.-]+)\s*\}\}/g;
const SEPARATORS = /[/\\?#]/;
// C0/C1 controls and DEL (\p{Cc}), invisible format characters (bidi overrides, zero-width: \p{Cf}),
// line and paragraph separators.
const CONTROL = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

export type UrlPart = 'authority' | 'path' | 'query' | 'fragment';

export interface UrlSlot {
  name: string;
  part: UrlPart;
  /** Where `{{name}}` starts in the template, and its length. */
  index: number;
  length: number;
}

/** Where each slot of `template` stands, in order (`authority`: the scheme or host). */
export function urlSlotParts(template: string): UrlSlot[] {
  // The scheme and host end at the first / ? # after `://` (or, without `://`, at the first one).
  const schemeEnd = template.indexOf('://');
  const hostStart = schemeEnd < 0 ? 0 : schemeEnd + 3;
  const rest = template.slice(hostStart).search(/[/?#]/);
  const authorityEnd = rest < 0 ? template.length : hostStart + rest;
  const query = template.indexOf('?', authorityEnd);
  const fragment = template.indexOf('#', authorityEnd);
  const out: UrlSlot[] = [];
  for (const m of template.matchAll(SLOT)) {
    const at = m.index;
    const part: UrlPart =
      at < authorityEnd
        ? 'authority'
        : fragment >= 0 && at > fragment
          ? 'fragment'
          : query >= 0 && at > query
            ? 'query'
            : 'path';
    out.push({ name: m[1] ?? '', part, index: at, length: m[0].length });
  }
  return out;
}

/** Names of the slots used in a URL template. */
export function urlSlotNames(template: string): Set<string> {
  return new Set(urlSlotParts(template).map((s) => s.name));
}

/** A load-time problem of a URL template (a slot in the scheme or host), or undefined. */
export function urlTemplateProblem(template: string): string | undefined {
  const bad = urlSlotParts(template).find((s) => s.part === 'authority');
  if (!bad) return undefined;
  return `{{${bad.name}}} is in the scheme or host; slots may fill only path segments, query values or the fragment`;
}

function decodedForms(value: string): string[] {
  const forms = [value];
  let cur = value;
  for (let i = 0; i < 3; i++) {
    let next: string;
    try {
      next = decodeURIComponent(cur);
    } catch {
      break;
    }
    if (next === cur) break;
    forms.push(next);
    cur = next;
  }
  return forms;
}

/**
 * Why `value` cannot fill a slot of a URL (at `part`), or undefined when it can. Checked on the
 * value and on what percent-decoding it yields, so `%2e%2e` counts as `..`.
 */
export function urlSlotProblem(value: string, part: UrlPart = 'path'): string | undefined {
  if (part === 'path' && value === '') return 'is empty (it would leave an empty path segment)';
  try {
    encodeURIComponent(value);
  } catch {
    return 'contains a broken Unicode character';
  }
  for (const form of decodedForms(value)) {
    if (form === '.' || form === '..') return 'is a dot segment (. or ..)';
    if (SEPARATORS.test(form)) return 'contains a URL separator (/ \\ ? #)';
    if (CONTROL.test(form)) return 'contains a control character';
  }
  return undefined;
}

function refuse(message: string, context: Record<string, unknown>): HubError {
  return new HubError('ACTION_FAILED', message, { retry: 'final', context });
}

function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/**
 * The template with every slot encoded as one path segment, query value or fragment. Throws
 * ACTION_FAILED (retry `final`, before any request) naming the slot — never its value — for a
 * missing or refused value, and when the result would not keep the template's origin.
 */
export function fillUrl(template: string, vars: Record<string, string>): string {
  const parts = urlSlotParts(template);
  let out = '';
  let last = 0;
  for (const { name, part, index, length } of parts) {
    const value = Object.hasOwn(vars, name) ? vars[name] : undefined;
    if (value === undefined) {
      throw refuse(`action template variable "${name}" has no value`, { missingVar: name });
    }
    if (part === 'authority') {
      throw refuse(`action url: slot "${name}" is in the scheme or host`, { invalidSlot: name, part });
    }
    const problem = urlSlotProblem(value, part);
    if (problem !== undefined) {
      throw refuse(`action url: the value of slot "${name}" ${problem}`, { invalidSlot: name, part, reason: problem });
    }
    out += template.slice(last, index) + encodeURIComponent(value);
    last = index + length;
  }
  out += template.slice(last);
  const expected = originOf(template.replace(SLOT, 'x'));
  const actual = originOf(out);
  if (expected !== undefined && actual !== undefined && expected !== actual) {
    throw refuse('action url: the filled URL leaves the origin of its template', { originChanged: true });
  }
  return out;
}
