/**
 * The `steps:` of a workflow file, compiled: each step one action (send, wait, ask, escalate, if,
 * webhook) with its options checked, nested branches (`on:` of an ask, `then:`/`else:` of an if)
 * compiled the same way. Ids: `id:` when given, else the step's path (`0`, `confirm.no.0`).
 */
import { DURATION_HINT, parseDuration, parseUntil } from './duration.js';
import { readCondition } from './condition.js';
import { readMapping, type Path, type WorkflowSource } from './source.js';
import { readMessage, readText, type TemplateCatalog } from './texts.js';
import { PRIORITIES, type AskChoice, type DataSchema, type DataTime, type EscalationPriority, type Step } from './types.js';

export const ACTIONS = ['send', 'wait', 'ask', 'escalate', 'if', 'webhook'] as const;
const STEP_ID = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const ANSWER = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
const CHANNEL = /^[a-z][a-z0-9_-]*$/;
const ENV_REF = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

export interface StepContext {
  src: WorkflowSource;
  data: DataSchema;
  /** Variables texts may use. */
  vars: readonly string[];
  templates: TemplateCatalog;
  templatesFile: string;
  /** Known channel names (undefined: any well-formed name). */
  channels: readonly string[] | undefined;
  /** Fallback order of a send or ask that gives none. */
  defaultChannels: readonly string[];
  /** Whether the run has a customer (a scheduled run has none). */
  hasCustomer: boolean;
  /** Step ids given so far (duplicates), and the asks compiled so far (answer conditions). */
  ids: Map<string, Path>;
  asks: Map<string, readonly string[]>;
}

export function readSteps(ctx: StepContext, path: Path, value: unknown, prefix: string | undefined): Step[] {
  if (!Array.isArray(value) || value.length === 0) {
    ctx.src.problem(path, 'must be a list of at least one step (- send: …, - wait: …)');
    return [];
  }
  const out: Step[] = [];
  value.forEach((raw, i) => {
    const step = readStep(ctx, [...path, i], raw, prefix === undefined ? String(i) : `${prefix}.${i}`);
    if (step) out.push(step);
  });
  return out;
}

function readStep(ctx: StepContext, path: Path, raw: unknown, autoId: string): Step | undefined {
  const { src } = ctx;
  const actions = raw !== null && typeof raw === 'object' && !Array.isArray(raw) ? ACTIONS.filter((a) => a in raw) : [];
  if (actions.length !== 1) {
    src.problem(path, actions.length ? `one action per step (this one has ${actions.join(' and ')})` : `a step is one of ${ACTIONS.join(', ')} (with an optional id:)`);
    return undefined;
  }
  const action = actions[0] ?? 'send';
  const extra = action === 'ask' ? ['on'] : action === 'if' ? ['then', 'else'] : [];
  const step = readMapping(src, path, raw, ['id', action, ...extra], `a ${action} step`);
  if (!step) return undefined;
  let id = autoId;
  if (step.id !== undefined) {
    if (typeof step.id !== 'string' || !STEP_ID.test(step.id)) src.problem([...path, 'id'], 'must start with a letter and hold only letters, digits, _ and - (at most 64)');
    else if (ctx.ids.has(step.id)) src.problem([...path, 'id'], `duplicate step id "${step.id}" (also at ${formatAt(ctx.ids.get(step.id) ?? [])}): step ids are unique in a workflow`);
    else {
      id = step.id;
      ctx.ids.set(id, path);
    }
  }
  const line = src.lineOf(path);
  const at = [...path, action];
  if (!ctx.hasCustomer && (action === 'send' || action === 'ask' || action === 'escalate')) {
    src.problem(at, `a scheduled run has no customer to ${action === 'escalate' ? 'escalate' : 'write to'}: use webhook (the business's system can answer with events)`);
    return undefined;
  }
  switch (action) {
    case 'send': {
      const body = readMapping(src, at, step.send, ['text', 'template', 'vars', 'channels', 'urgent', 'skipAfter'], 'send');
      if (!body) return undefined;
      const message = readMessage(src, at, body, ctx.vars, ctx.templates, ctx.templatesFile);
      const channels = readChannels(ctx, [...at, 'channels'], body.channels);
      const urgent = readBool(src, [...at, 'urgent'], body.urgent);
      const skipAfter = body.skipAfter === undefined ? undefined : readDataTime(ctx, [...at, 'skipAfter'], body.skipAfter, 'skipAfter');
      return message && { id, line, action, message, channels, urgent, ...(skipAfter ? { skipAfter } : {}) };
    }
    case 'wait': {
      const body = readMapping(src, at, step.wait, ['for', 'until'], 'wait');
      if (!body) return undefined;
      if ((body.for === undefined) === (body.until === undefined)) {
        src.problem(at, 'give for: <duration> (15m, 7d) or until: "<datetime field> - <duration>" (e.g. "dueAt - 7d"), one of them');
        return undefined;
      }
      if (body.for !== undefined) {
        const forMs = parseDuration(body.for);
        if (forMs === undefined) src.problem([...at, 'for'], `${JSON.stringify(body.for)} is not ${DURATION_HINT}`);
        return forMs === undefined ? undefined : { id, line, action, forMs };
      }
      const until = readDataTime(ctx, [...at, 'until'], body.until, 'until');
      return until && { id, line, action, until };
    }
    case 'ask':
      return readAsk(ctx, path, step, id, line);
    case 'escalate': {
      const body = readMapping(src, at, step.escalate ?? {}, ['priority', 'note'], 'escalate');
      if (!body) return undefined;
      const priority = body.priority ?? 'normal';
      if (!(PRIORITIES as readonly unknown[]).includes(priority)) src.problem([...at, 'priority'], `must be ${PRIORITIES.join(' or ')} (high: urgent, first on the desk)`);
      let note: string | undefined;
      if (body.note !== undefined) {
        if (typeof body.note !== 'string') src.problem([...at, 'note'], 'must be a text for the agent');
        else note = readText(src, [...at, 'note'], body.note, ctx.vars) === undefined ? undefined : body.note;
      }
      return { id, line, action, priority: priority as EscalationPriority, ...(note === undefined ? {} : { note }) };
    }
    case 'if': {
      const condition = readCondition(src, at, step.if, ctx.data, ctx.asks);
      const then = step.then === undefined ? (src.problem(path, 'an if needs then: [steps]'), []) : readSteps(ctx, [...path, 'then'], step.then, `${id}.then`);
      const otherwise = step.else === undefined ? [] : readSteps(ctx, [...path, 'else'], step.else, `${id}.else`);
      return condition && { id, line, action, condition, then: Object.freeze(then), else: Object.freeze(otherwise) };
    }
    case 'webhook': {
      const body = readMapping(src, at, step.webhook, ['url', 'secret'], 'webhook');
      if (!body) return undefined;
      let url: string | undefined;
      try {
        if (typeof body.url === 'string' && /^https?:$/.test(new URL(body.url).protocol)) url = body.url;
      } catch {
        // reported below
      }
      if (url === undefined) src.problem([...at, 'url'], 'must be an absolute http(s) URL, e.g. https://crm.example.com/switchboard');
      const env = typeof body.secret === 'string' ? ENV_REF.exec(body.secret)?.[1] : undefined;
      if (env === undefined) src.problem([...at, 'secret'], 'must be an environment variable reference like ${CRM_WEBHOOK_SECRET}: never a secret in the file');
      return url !== undefined && env !== undefined ? { id, line, action, url, secretEnv: env } : undefined;
    }
  }
}

/** `until:` of a wait, `skipAfter:` of a send or ask: a datetime field every event has, plus or minus a duration. */
function readDataTime(ctx: StepContext, path: Path, value: unknown, key: string): DataTime | undefined {
  const parsed = parseUntil(value);
  if ('problem' in parsed) {
    ctx.src.problem(path, parsed.problem);
    return undefined;
  }
  const spec = ctx.data[parsed.field];
  if (spec?.type !== 'datetime') {
    const datetimes = Object.entries(ctx.data).filter(([, f]) => f.type === 'datetime').map(([k]) => k);
    const why = spec ? `is a ${spec.type}` : 'is not a field of the trigger\'s data';
    ctx.src.problem(path, `${parsed.field} ${why}: ${key} needs a datetime field (${datetimes.length ? `this trigger has ${datetimes.join(', ')}` : 'this trigger has none'})`);
    return undefined;
  }
  if (spec.optional) {
    ctx.src.problem(path, `${parsed.field} is optional (datetime?): ${key} needs a field every event has`);
    return undefined;
  }
  return { field: parsed.field, offsetMs: parsed.offsetMs, source: String(value).trim() };
}

function readAsk(ctx: StepContext, path: Path, step: Record<string, unknown>, id: string, line: number): Step | undefined {
  const { src } = ctx;
  const at = [...path, 'ask'];
  const body = readMapping(src, at, step.ask, ['text', 'template', 'vars', 'choices', 'timeout', 'channels', 'urgent', 'skipAfter'], 'ask');
  if (!body) return undefined;
  const message = readMessage(src, at, body, ctx.vars, ctx.templates, ctx.templatesFile);
  const choices = readChoices(ctx, [...at, 'choices'], body.choices);
  const timeoutMs = body.timeout === undefined ? undefined : parseDuration(body.timeout);
  if (timeoutMs === undefined) src.problem([...at, 'timeout'], `${body.timeout === undefined ? 'give how long to wait for the answer' : `${JSON.stringify(body.timeout)} is not a duration`}: ${DURATION_HINT}`);
  const channels = readChannels(ctx, [...at, 'channels'], body.channels);
  const urgent = readBool(src, [...at, 'urgent'], body.urgent);
  const skipAfter = body.skipAfter === undefined ? undefined : readDataTime(ctx, [...at, 'skipAfter'], body.skipAfter, 'skipAfter');
  const answers = choices.map((c) => c.answer);
  ctx.asks.set(id, answers);
  const on: Record<string, readonly Step[]> = {};
  if (step.on !== undefined) {
    const branches = readMapping(src, [...path, 'on'], step.on, [...answers, 'timeout'], `the on: of ask ${id} (its answers and timeout)`);
    for (const [answer, steps] of Object.entries(branches ?? {})) {
      if (answer !== 'timeout' && !answers.includes(answer)) continue;
      on[answer] = Object.freeze(readSteps(ctx, [...path, 'on', answer], steps, `${id}.${answer}`));
    }
  }
  if (!message || timeoutMs === undefined || choices.length === 0) return undefined;
  return { id, line, action: 'ask', message, choices, timeoutMs, channels, urgent, ...(skipAfter ? { skipAfter } : {}), on: Object.freeze(on) };
}

/** `choices: { yes: ["1", 是, yes], no: ["2", 否, no] }`: answer -> the replies that mean it. */
function readChoices(ctx: StepContext, path: Path, value: unknown): AskChoice[] {
  const { src } = ctx;
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.keys(value).length < 2) {
    src.problem(path, 'give at least two answers, each with the replies that mean it: { yes: ["1", "是", "yes"], no: ["2", "否", "no"] }');
    return [];
  }
  const out: AskChoice[] = [];
  const seen = new Map<string, string>();
  for (const [answer, raw] of Object.entries(value)) {
    if (!ANSWER.test(answer) || answer === 'timeout') {
      src.problem([...path, answer], answer === 'timeout' ? '"timeout" is the branch of no answer, not a choice' : 'an answer name starts with a letter: letters, digits, _ and -');
      continue;
    }
    const list = Array.isArray(raw) ? raw : [raw];
    const replies = list.map((r) => (typeof r === 'string' || typeof r === 'number' ? String(r).trim() : '')).filter((r) => r !== '');
    if (replies.length !== list.length || replies.length === 0) {
      src.problem([...path, answer], 'must be a list of replies that mean this answer, e.g. ["1", "是", "yes"]');
      continue;
    }
    for (const r of replies) {
      const key = r.toLowerCase();
      const other = seen.get(key);
      if (other !== undefined && other !== answer) src.problem([...path, answer], `the reply "${r}" also means ${other}`);
      seen.set(key, answer);
    }
    out.push(Object.freeze({ answer, replies: Object.freeze(replies) }));
  }
  return out;
}

function readChannels(ctx: StepContext, path: Path, value: unknown): readonly string[] {
  if (value === undefined) return ctx.defaultChannels;
  const list = Array.isArray(value) ? value : [value];
  const known = ctx.channels;
  const ok = list.filter((c): c is string => typeof c === 'string' && (c === 'preferred' || (known ? known.includes(c) : CHANNEL.test(c))));
  if (ok.length !== list.length || list.length === 0 || new Set(ok).size !== ok.length) {
    const bad = list.find((c) => !ok.includes(c as string));
    const names = known ? `preferred, ${known.join(', ')}` : 'preferred or channel names';
    ctx.src.problem(path, `${bad === undefined ? 'must list each channel once' : `${JSON.stringify(bad)} is not a channel`}: the fallback order is a list of ${names}`);
  }
  return Object.freeze([...new Set(ok)]);
}

function readBool(src: WorkflowSource, path: Path, value: unknown): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') src.problem(path, 'must be true or false');
  return value === true;
}

function formatAt(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}
