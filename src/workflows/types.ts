/**
 * The compiled form of a workflow file (config/workflows/*.yaml), as `loadWorkflows` returns it:
 * plain frozen data an engine can run. Every step has a stable id: its `id:` when the file gives
 * one, else its path (`0`, `confirm.no.0`, `check.then.1`). Durations are milliseconds.
 */
import type { LocalizedText } from '../core/templates.js';

export const FIELD_TYPES = ['string', 'number', 'integer', 'boolean', 'datetime'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export interface FieldSpec {
  readonly type: FieldType;
  readonly optional: boolean;
}
/** An event's `data` as a workflow file declares it: field name -> type. */
export type DataSchema = Readonly<Record<string, FieldSpec>>;

/** Conversation events a workflow can start on (the core's `conversation.escalated`, …). */
export const CONVERSATION_EVENTS = ['escalated', 'resolved', 'csat.given'] as const;
export type ConversationEvent = (typeof CONVERSATION_EVENTS)[number];

export type Trigger =
  | { readonly kind: 'event'; readonly event: string; readonly data: DataSchema }
  | { readonly kind: 'schedule'; readonly cron: string; readonly timezone: string; readonly data: DataSchema }
  | { readonly kind: 'conversation'; readonly event: ConversationEvent; readonly data: DataSchema };

/** Local wall-clock times "HH:MM"; `from` > `to` spans midnight. */
export interface QuietHours {
  readonly from: string;
  readonly to: string;
}

/** Proactive-message kind of a workflow's sends: what a customer's opt-out applies to. */
export const WORKFLOW_KINDS = ['reminder', 'alert'] as const;
export type WorkflowKind = (typeof WORKFLOW_KINDS)[number];

export const PRIORITIES = ['normal', 'high'] as const;
export type EscalationPriority = (typeof PRIORITIES)[number];

interface StepBase {
  readonly id: string;
  /** Line of the step in its file. */
  readonly line: number;
}

/** A text written in the workflow file, or a template of config/templates/messages.yaml. */
export type MessageSource =
  | { readonly inline: LocalizedText }
  /** `vars`: the template's variables, each a text with the workflow's placeholders. */
  | { readonly template: string; readonly vars: Readonly<Record<string, string>> };

/** A time from the event data: `data[field] + offsetMs` (`dueAt - 7d`), as written in `source`. */
export interface DataTime {
  readonly field: string;
  readonly offsetMs: number;
  readonly source: string;
}

export interface SendStep extends StepBase {
  readonly action: 'send';
  readonly message: MessageSource;
  /** Fallback order: `preferred` (the customer's preferred channel) or channel names. */
  readonly channels: readonly string[];
  /** Sent even in quiet hours. */
  readonly urgent: boolean;
  /** Not sent once this time has passed (a late reminder is stale): the step is skipped and the run goes on. */
  readonly skipAfter?: DataTime;
}

export type WaitStep = StepBase & { readonly action: 'wait' } & (
    | { readonly forMs: number }
    /** Until `data[field] + offsetMs` (offset negative for `dueAt - 7d`). */
    | { readonly until: DataTime }
  );

export interface AskChoice {
  readonly answer: string;
  /** Replies that mean this answer (matched trimmed and case-insensitively). */
  readonly replies: readonly string[];
}

export interface AskStep extends StepBase {
  readonly action: 'ask';
  readonly message: MessageSource;
  readonly choices: readonly AskChoice[];
  readonly timeoutMs: number;
  readonly channels: readonly string[];
  readonly urgent: boolean;
  /** Not asked once this time has passed (see SendStep). */
  readonly skipAfter?: DataTime;
  /** Steps per answer, and `timeout`; an answer without steps continues after the ask. */
  readonly on: Readonly<Record<string, readonly Step[]>>;
}

export interface EscalateStep extends StepBase {
  readonly action: 'escalate';
  readonly priority: EscalationPriority;
  /** Shown to the agent on the desk (placeholders filled like a send). */
  readonly note?: string;
}

export const COMPARISONS = ['==', '!=', '>', '>=', '<', '<='] as const;
export type Comparison = (typeof COMPARISONS)[number];

export interface Condition {
  /** A field of the event data, or the answer to an earlier `ask` (by its step id). */
  readonly left: { readonly field: string } | { readonly answerOf: string };
  readonly op: Comparison;
  readonly value: string | number | boolean;
  /** As written, for timelines and logs. */
  readonly source: string;
}

export interface IfStep extends StepBase {
  readonly action: 'if';
  readonly condition: Condition;
  readonly then: readonly Step[];
  readonly else: readonly Step[];
}

export interface WebhookStep extends StepBase {
  readonly action: 'webhook';
  readonly url: string;
  /** The environment variable holding the signing secret (`${NAME}` in the file). */
  readonly secretEnv: string;
}

export type Step = SendStep | WaitStep | AskStep | EscalateStep | IfStep | WebhookStep;
export type StepAction = Step['action'];

export interface Workflow {
  /** The file name without .yaml. */
  readonly name: string;
  readonly file: string;
  readonly description?: string;
  readonly kind: WorkflowKind;
  readonly trigger: Trigger;
  /** The data field whose value ties this run to later events (cancellation). */
  readonly correlationKey?: string;
  /** Customers without a timezone of their own are in this one. */
  readonly timezone: string;
  readonly quietHours: QuietHours | null;
  /** Default fallback order of send and ask steps. */
  readonly channels: readonly string[];
  readonly steps: readonly Step[];
  /** Every step, nested ones included, by id. */
  readonly stepsById: ReadonlyMap<string, Step>;
}

/** An event type the files declare: a trigger's, or one declared under `events:` (e.g. to cancel). */
export interface EventDeclaration {
  readonly type: string;
  readonly data: DataSchema;
  readonly correlationKey?: string;
  /** Event types whose pending runs (same correlation value) this event cancels. */
  readonly cancels: readonly string[];
  readonly file: string;
  readonly line: number;
}

/** `_defaults.yaml` of the workflows folder. */
export interface WorkflowDefaults {
  readonly timezone: string;
  readonly quietHours: QuietHours | null;
  readonly channels: readonly string[];
  /** Replies that stop a customer's proactive messages of that workflow's kind. */
  readonly optOutWords: readonly string[];
}

/** The variables every text may use besides the trigger's data fields. */
export const BUILTIN_VARS = ['customerName'] as const;
