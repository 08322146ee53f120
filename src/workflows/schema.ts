/**
 * The format of one workflow file (config/workflows/<name>.yaml) and of the folder's
 * `_defaults.yaml`, read into the compiled `Workflow` (types.ts). Every problem is recorded on the
 * source with its line and field; the loader (load.ts) adds the checks across files.
 */
import { CronExpressionParser } from 'cron-parser';
import { isEventType } from '../core/events.js';
import { CONVERSATION_DATA, FIELD_NAME, parseFieldType } from './fields.js';
import { isRecord, readMapping, type Path, type WorkflowSource } from './source.js';
import { readSteps, type StepContext } from './steps.js';
import { textVariables, type TemplateCatalog } from './texts.js';
import {
  BUILTIN_VARS,
  CONVERSATION_EVENTS,
  WORKFLOW_KINDS,
  type ConversationEvent,
  type DataSchema,
  type EventDeclaration,
  type FieldSpec,
  type QuietHours,
  type Step,
  type Trigger,
  type Workflow,
  type WorkflowDefaults,
  type WorkflowKind,
} from './types.js';
import { isTimeZone, minutesOf } from './zone.js';

export const EVENT_TYPE = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
const TOP_KEYS = ['description', 'kind', 'trigger', 'correlationKey', 'events', 'timezone', 'quietHours', 'channels', 'steps'] as const;

export const BUILTIN_DEFAULTS: WorkflowDefaults = Object.freeze({
  timezone: 'UTC',
  quietHours: Object.freeze({ from: '21:00', to: '08:00' }),
  channels: Object.freeze(['preferred']),
  optOutWords: Object.freeze(['退订', 'TD', 'STOP', 'unsubscribe']),
});

export interface ReadOptions {
  templates: TemplateCatalog;
  templatesFile: string;
  channels: readonly string[] | undefined;
  defaults: WorkflowDefaults;
}

/** What one file gives the loader: its workflow, the event types it declares, and what its `cancels` name. */
export interface FileResult {
  workflow: Workflow | undefined;
  declarations: { decl: EventDeclaration; path: Path }[];
  cancels: { type: string; path: Path; file: string; line: number }[];
}

export function readWorkflowFile(src: WorkflowSource, name: string, opts: ReadOptions): FileResult {
  const result: FileResult = { workflow: undefined, declarations: [], cancels: [] };
  if (!src.doc) return result;
  const raw = readMapping(src, [], src.toJS(), TOP_KEYS, 'a workflow file');
  if (!raw) return result;
  const kind = raw.kind ?? 'reminder';
  if (!(WORKFLOW_KINDS as readonly unknown[]).includes(kind)) src.problem(['kind'], `must be ${WORKFLOW_KINDS.join(' or ')} (what a customer's opt-out of that kind stops)`);
  const trigger = readTrigger(src, raw.trigger);
  const data: DataSchema = trigger?.data ?? {};
  let correlationKey: string | undefined;
  if (raw.correlationKey !== undefined) correlationKey = readCorrelationKey(src, ['correlationKey'], raw.correlationKey, data, trigger?.kind === 'event');
  const timezone = raw.timezone === undefined ? opts.defaults.timezone : readZone(src, ['timezone'], raw.timezone);
  const quietHours = raw.quietHours === undefined ? opts.defaults.quietHours : readQuietHours(src, ['quietHours'], raw.quietHours);
  const base: StepContext = {
    src,
    data,
    vars: textVariables(data),
    templates: opts.templates,
    templatesFile: opts.templatesFile,
    channels: opts.channels,
    defaultChannels: opts.defaults.channels,
    hasCustomer: trigger?.kind !== 'schedule',
    ids: new Map(),
    asks: new Map(),
  };
  const channels = raw.channels === undefined ? opts.defaults.channels : readChannelList(src, raw.channels, opts.channels, opts.defaults.channels);
  const steps = readSteps({ ...base, defaultChannels: channels }, ['steps'], raw.steps, undefined);
  if (trigger?.kind === 'event') {
    const path = ['trigger', 'event'];
    const decl = { type: trigger.event, data, cancels: [], file: src.file, line: src.lineOf(path), ...(correlationKey ? { correlationKey } : {}) };
    result.declarations.push({ decl, path });
  }
  if (raw.events !== undefined) readEvents(src, raw.events, result);
  if (typeof raw.description !== 'string' && raw.description !== undefined) src.problem(['description'], 'must be a text');
  if (!trigger || src.problems.length > 0) return result;
  const stepsById = new Map<string, Step>();
  const index = (list: readonly Step[]): void => {
    for (const s of list) {
      stepsById.set(s.id, s);
      if (s.action === 'ask') Object.values(s.on).forEach(index);
      if (s.action === 'if') [s.then, s.else].forEach(index);
    }
  };
  index(steps);
  result.workflow = Object.freeze({
    name,
    file: src.file,
    ...(typeof raw.description === 'string' ? { description: raw.description } : {}),
    kind: kind as WorkflowKind,
    trigger,
    ...(correlationKey ? { correlationKey } : {}),
    timezone,
    quietHours,
    channels,
    steps: Object.freeze(steps),
    stepsById,
  });
  return result;
}

/** A workflow's (or the defaults') fallback order of channels. */
function readChannelList(src: WorkflowSource, value: unknown, known: readonly string[] | undefined, fallback: readonly string[]): readonly string[] {
  if (!Array.isArray(value) || value.length === 0 || value.some((c) => typeof c !== 'string')) {
    src.problem(['channels'], 'must be a list of channels in fallback order, e.g. [preferred, telegram, email]');
    return fallback;
  }
  const bad = (value as string[]).find((c) => c !== 'preferred' && (known ? !known.includes(c) : !/^[a-z][a-z0-9_-]*$/.test(c)));
  if (bad !== undefined) src.problem(['channels'], `"${bad}" is not a channel (${known ? `preferred, ${known.join(', ')}` : 'preferred or a channel name'})`);
  return Object.freeze([...new Set(value as string[])]);
}

function readTrigger(src: WorkflowSource, value: unknown): Trigger | undefined {
  const t = readMapping(src, ['trigger'], value, ['event', 'data', 'cron', 'timezone', 'conversation'], 'trigger');
  if (!t) return undefined;
  const kinds = (['event', 'cron', 'conversation'] as const).filter((k) => t[k] !== undefined);
  if (kinds.length !== 1) {
    src.problem(['trigger'], 'give one of event: <type> (with data:), cron: "<expression>" (with timezone:), conversation: escalated | resolved | csat.given');
    return undefined;
  }
  const kind = kinds[0];
  if (kind !== 'event' && t.data !== undefined) src.problem(['trigger', 'data'], `a ${kind} trigger brings its own data: data: goes with event:`);
  if (kind !== 'cron' && t.timezone !== undefined) src.problem(['trigger', 'timezone'], 'timezone: goes with cron: (a workflow\'s timezone is the top-level timezone:)');
  if (kind === 'event') {
    if (typeof t.event !== 'string' || !EVENT_TYPE.test(t.event)) return void src.problem(['trigger', 'event'], 'must be an event type: lowercase words joined by dots, e.g. subscription.expiring');
    if (isEventType(t.event)) return void src.problem(['trigger', 'event'], `${t.event} is a conversation event of the hub: write conversation: ${t.event.replace(/^conversation\./, '')}`);
    const data = readDataSchema(src, ['trigger', 'data'], t.data);
    return data && { kind: 'event', event: t.event, data };
  }
  if (kind === 'conversation') {
    const event = t.conversation;
    if (!(CONVERSATION_EVENTS as readonly unknown[]).includes(event)) return void src.problem(['trigger', 'conversation'], `must be one of ${CONVERSATION_EVENTS.join(', ')}`);
    return { kind: 'conversation', event: event as ConversationEvent, data: CONVERSATION_DATA[event as string] ?? {} };
  }
  const timezone = t.timezone === undefined ? (src.problem(['trigger'], 'a cron trigger needs timezone: (e.g. Asia/Shanghai)'), undefined) : readZone(src, ['trigger', 'timezone'], t.timezone);
  if (typeof t.cron !== 'string') return void src.problem(['trigger', 'cron'], 'must be a cron expression in quotes, e.g. "0 9 * * 1" (Mondays at 09:00)');
  try {
    CronExpressionParser.parse(t.cron, { strict: false, ...(timezone ? { tz: timezone } : {}) });
  } catch (err) {
    return void src.problem(['trigger', 'cron'], `"${t.cron}" is not a cron expression (${err instanceof Error ? err.message : String(err)}): minute hour day-of-month month day-of-week, e.g. "0 9 * * 1"`);
  }
  return timezone === undefined ? undefined : { kind: 'schedule', cron: t.cron, timezone, data: {} };
}

/** `{ subscriptionId: string, dueAt: datetime, note: string? }`. */
function readDataSchema(src: WorkflowSource, path: Path, value: unknown): DataSchema | undefined {
  if (!isRecord(value) || Object.keys(value).length === 0) {
    src.problem(path, 'declare the event\'s data fields: { subscriptionId: string, dueAt: datetime, note: string? } (types: string, number, integer, boolean, datetime)');
    return undefined;
  }
  const out: Record<string, FieldSpec> = {};
  for (const [field, type] of Object.entries(value)) {
    if (!FIELD_NAME.test(field)) src.problem([...path, field], 'a field name starts with a letter: letters, digits and _');
    else if ((BUILTIN_VARS as readonly string[]).includes(field)) src.problem([...path, field], `${field} is a built-in variable of the texts: name the field otherwise`);
    else if (/_(date|time)$/.test(field) && value[field.replace(/_(date|time)$/, '')] === 'datetime') src.problem([...path, field], `${field} is the name texts use for part of a datetime field: name it otherwise`);
    const spec = parseFieldType(type);
    if ('problem' in spec) src.problem([...path, field], spec.problem);
    else out[field] = Object.freeze(spec);
  }
  return Object.freeze(out);
}

function readCorrelationKey(src: WorkflowSource, path: Path, value: unknown, data: DataSchema, allowed: boolean): string | undefined {
  if (!allowed) return void src.problem(path, 'only an event trigger has a correlation key');
  const spec = typeof value === 'string' ? data[value] : undefined;
  if (typeof value !== 'string' || !spec) return void src.problem(path, `${JSON.stringify(value)} is not a field of the trigger's data (it has ${Object.keys(data).join(', ') || 'none'})`);
  if (spec.optional || (spec.type !== 'string' && spec.type !== 'integer')) return void src.problem(path, `${value} must be a required string or integer field to tie events together`);
  return value;
}

function readEvents(src: WorkflowSource, value: unknown, result: FileResult): void {
  if (!isRecord(value)) return void src.problem(['events'], 'must map event types to { data, correlationKey, cancels }');
  for (const [type, decl] of Object.entries(value)) {
    const path = ['events', type];
    if (!EVENT_TYPE.test(type) || isEventType(type)) {
      src.problem(path, isEventType(type) ? `${type} is a conversation event of the hub` : 'an event type is lowercase words joined by dots, e.g. subscription.renewed');
      continue;
    }
    const d = readMapping(src, path, decl, ['data', 'correlationKey', 'cancels'], `event ${type}`);
    if (!d) continue;
    const data = readDataSchema(src, [...path, 'data'], d.data) ?? {};
    const correlationKey = d.correlationKey === undefined ? undefined : readCorrelationKey(src, [...path, 'correlationKey'], d.correlationKey, data, true);
    const cancels = d.cancels === undefined ? [] : Array.isArray(d.cancels) ? d.cancels : [d.cancels];
    if (cancels.length > 0 && correlationKey === undefined) src.problem([...path, 'cancels'], 'cancelling needs correlationKey: (the field whose value picks the runs to cancel)');
    const types: string[] = [];
    cancels.forEach((c) => {
      if (typeof c !== 'string' || !EVENT_TYPE.test(c)) src.problem([...path, 'cancels'], `${JSON.stringify(c)} is not an event type`);
      else {
        types.push(c);
        result.cancels.push({ type: c, path: [...path, 'cancels'], file: src.file, line: src.lineOf([...path, 'cancels']) });
      }
    });
    result.declarations.push({ decl: { type, data, cancels: types, file: src.file, line: src.lineOf(path), ...(correlationKey ? { correlationKey } : {}) }, path });
  }
}

function readZone(src: WorkflowSource, path: Path, value: unknown): string {
  if (isTimeZone(value)) return value;
  src.problem(path, `${JSON.stringify(value)} is not a time zone: use an IANA name like Asia/Shanghai, Europe/Berlin or UTC`);
  return 'UTC';
}

export function readQuietHours(src: WorkflowSource, path: Path, value: unknown): QuietHours | null {
  if (value === false || value === 'off') return null;
  const q = readMapping(src, path, value, ['from', 'to'], 'quietHours (or off)');
  if (!q) return null;
  for (const k of ['from', 'to'] as const) if (minutesOf(q[k]) === undefined) src.problem([...path, k], `must be a time "HH:MM" in quotes, e.g. "${k === 'from' ? '21:00' : '08:00'}"`);
  if (q.from === q.to) src.problem(path, 'from and to are the same time: write quietHours: off for none');
  return Object.freeze({ from: String(q.from), to: String(q.to) });
}

/** `_defaults.yaml`: timezone, quietHours, channels, optOutWords (each optional). */
export function readDefaults(src: WorkflowSource, channels: readonly string[] | undefined): WorkflowDefaults {
  const d = src.doc ? readMapping(src, [], src.toJS() ?? {}, ['timezone', 'quietHours', 'channels', 'optOutWords'], 'the defaults file') : undefined;
  if (!d) return BUILTIN_DEFAULTS;
  const words = d.optOutWords;
  if (words !== undefined && (!Array.isArray(words) || words.length === 0 || words.some((w) => typeof w !== 'string' || w.trim() === ''))) {
    src.problem(['optOutWords'], 'must be a list of replies that stop proactive messages, e.g. [退订, TD, STOP, unsubscribe]');
  }
  return Object.freeze({
    timezone: d.timezone === undefined ? BUILTIN_DEFAULTS.timezone : readZone(src, ['timezone'], d.timezone),
    quietHours: d.quietHours === undefined ? BUILTIN_DEFAULTS.quietHours : readQuietHours(src, ['quietHours'], d.quietHours),
    channels: d.channels === undefined ? BUILTIN_DEFAULTS.channels : readChannelList(src, d.channels, channels, BUILTIN_DEFAULTS.channels),
    optOutWords: Array.isArray(words) ? Object.freeze(words.map(String)) : BUILTIN_DEFAULTS.optOutWords,
  });
}
