/**
 * Business actions of the knowledge bot ("where is my order 123"): one HTTP call to the company's
 * own API, with `{{var}}` slots from the conversation and `${ENV}` secrets in header values, then
 * an answer rendered from the JSON result with {@link renderTemplate}.
 *
 * - url: each `{{var}}` value fills one path segment, query value or the fragment, URL-encoded;
 *   `.`/`..`, separators (`/ \ ? #`) and control characters, also percent-encoded, are refused
 *   (ACTION_FAILED, `context.invalidSlot`, retry `final`), slots in the scheme or host fail the
 *   load, and the filled URL must keep the template's origin (url-slots.ts).
 * - body (POST only; ignored for GET): `{{var}}` values are JSON-string-escaped, for templates like
 *   `{"order": "{{orderId}}"}`;
 *   `content-type: application/json` is sent unless a header says otherwise.
 * - headers: `${ENV_VAR}` from the environment at call time; unset or empty -> CONFIG_MISSING_ENV.
 * - A template variable with no value -> ACTION_FAILED (`context.missingVar`, retry `final`).
 * - Failures -> ACTION_FAILED with context `{ status }` (non-2xx; retry for 5xx/429, final for other
 *   4xx), `{ timeout: true }`, `{ network: true }`, or `{ status, invalidBody: true }` when the body
 *   is not a JSON object. Messages and context never carry header values.
 * - resultPath (`data.order`): the object returned is that part of the body; a missing part ->
 *   ACTION_FAILED (`context.resultPath`); a non-object value is wrapped as `{ value }`.
 */
import { z } from 'zod';
import { HubError } from '../core/errors.js';
import { fillUrl, urlTemplateProblem } from './url-slots.js';

export const actionSpecSchema = z.object({
  url: z
    .string()
    .min(1)
    .superRefine((url, ctx) => {
      const problem = urlTemplateProblem(url);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    }),
  method: z.enum(['GET', 'POST']).default('GET'),
  headers: z.record(z.string(), z.string()).default({}),
  body: z.string().optional(),
  timeoutMs: z.number().int().positive().max(60_000).default(5000),
  resultPath: z.string().min(1).optional(),
});
export type ActionSpec = z.infer<typeof actionSpecSchema>;

const MAX_BODY_CHARS = 1_000_000;
const SLOT = /\{\{\s*([\w.-]+)\s*\}\}/g;
const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;

function lookup(vars: Record<string, unknown>, path: string): unknown {
  let cur: unknown = vars;
  for (const key of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function display(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== 'object')) return value.map(display).join(', ');
  return JSON.stringify(value);
}

/** `{{a.b}}` / `{{ items.0.name }}` from `vars`; a missing value renders as an empty string. */
export function renderTemplate(tpl: string, vars: Record<string, unknown>): string {
  return tpl.replace(SLOT, (_m, path: string) => display(lookup(vars, path)));
}

function fill(tpl: string, vars: Record<string, string>, encode: (v: string) => string): string {
  return tpl.replace(SLOT, (_m, name: string) => {
    const value = Object.hasOwn(vars, name) ? vars[name] : undefined;
    if (value === undefined) {
      const context = { missingVar: name };
      throw new HubError('ACTION_FAILED', `action template variable "${name}" has no value`, { retry: 'final', context });
    }
    return encode(value);
  });
}

function jsonEscape(value: string): string {
  return JSON.stringify(value).slice(1, -1);
}

function substituteEnv(value: string, env: NodeJS.ProcessEnv): string {
  return value.replace(ENV_REF, (_m, name: string) => {
    const v = env[name];
    if (v === undefined || v === '') {
      const message = `environment variable ${name} is not set (used in an action header)`;
      throw new HubError('CONFIG_MISSING_ENV', message, { context: { variable: name } });
    }
    return v;
  });
}

function fail(message: string, context: Record<string, unknown>, retry: 'retry' | 'final', cause?: unknown): HubError {
  return new HubError('ACTION_FAILED', message, { context, retry, ...(cause === undefined ? {} : { cause }) });
}

export async function callAction(
  spec: ActionSpec,
  vars: Record<string, string>,
  opts: { env?: NodeJS.ProcessEnv; fetchImpl?: typeof fetch } = {},
): Promise<Record<string, unknown>> {
  const env = opts.env ?? process.env;
  const fetchImpl = opts.fetchImpl ?? globalThis.fetch;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(spec.headers)) headers[name] = substituteEnv(value, env);

  let url: URL;
  try {
    url = new URL(fillUrl(spec.url, vars));
  } catch (err) {
    if (err instanceof HubError) throw err;
    throw fail('action url is not a valid URL', {}, 'final', err);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw fail(`action url must be http(s), not ${url.protocol}`, {}, 'final');
  }
  const where = { method: spec.method, host: url.host };
  const what = `action ${spec.method} ${url.host}`;

  const init: RequestInit = { method: spec.method, headers, signal: AbortSignal.timeout(spec.timeoutMs) };
  if (spec.body !== undefined && spec.method === 'POST') {
    init.body = fill(spec.body, vars, jsonEscape);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['content-type'] = 'application/json';
  }
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'accept')) headers.accept = 'application/json';

  let status = 0;
  let text: string;
  try {
    const res = await fetchImpl(url, init);
    status = res.status;
    text = await res.text();
    if (!res.ok) {
      const retry = status >= 500 || status === 429 || status === 408 ? 'retry' : 'final';
      throw fail(`${what} answered HTTP ${status}`, { ...where, status }, retry);
    }
  } catch (err) {
    if (err instanceof HubError) throw err;
    const name = err instanceof Error ? err.name : '';
    if (name === 'TimeoutError' || name === 'AbortError') {
      const context = { ...where, timeout: true, timeoutMs: spec.timeoutMs };
      throw fail(`${what} timed out after ${spec.timeoutMs} ms`, context, 'retry', err);
    }
    throw fail(`${what} failed: network error`, { ...where, network: true, ...(status ? { status } : {}) }, 'retry', err);
  }

  let parsed: unknown;
  try {
    if (text.length > MAX_BODY_CHARS) throw new Error(`body larger than ${MAX_BODY_CHARS} chars`);
    parsed = JSON.parse(text);
  } catch (err) {
    throw fail(`${what} returned a non-JSON body`, { ...where, status, invalidBody: true }, 'final', err);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw fail(`${what} returned JSON that is not an object`, { ...where, status, invalidBody: true }, 'final');
  }
  const body = parsed as Record<string, unknown>;
  if (spec.resultPath === undefined) return body;
  const picked = lookup(body, spec.resultPath);
  if (picked === undefined || picked === null) {
    throw fail(`action result has nothing at "${spec.resultPath}"`, { ...where, status, resultPath: spec.resultPath }, 'final');
  }
  return typeof picked === 'object' && !Array.isArray(picked) ? (picked as Record<string, unknown>) : { value: picked };
}
