/**
 * What one step does when its job runs, as an outcome the engine records: done (with a result),
 * later (the step waits for its due slot: a wait, a send in quiet hours; src/workflows/engine-slots.ts) or failed (the run stops).
 * A step that throws is retried by BullMQ; a retried send uses the same key, so it sends once.
 */
import { signatureHeader } from '../webhooks/payload.js';
import type { EscalateRequest } from '../core/conversation/escalate.js';
import type { FallbackSends } from '../core/conversation/fallback.js';
import { HubError, errorMessage, isHubError } from '../core/errors.js';
import type { Customer } from '../core/model.js';
import type { Storage } from '../core/storage/storage.js';
import type { ChannelName } from '../core/types.js';
import { evaluate } from './condition.js';
import type { LoadedWorkflows } from './load.js';
import { optedOutAt } from './opt-out.js';
import { renderMessage, runVars } from './render.js';
import type { RunRecord, StepRecord, WorkflowEventRecord } from './storage/repo.js';
import type { AskStep, EscalateStep, SendStep, Step, WebhookStep, Workflow } from './types.js';
import { afterQuietHours } from './zone.js';
import { holdsRateSlot } from './engine-slots.js';

export type Outcome =
  | { kind: 'done'; result: Record<string, unknown> }
  /** `result`: kept on the step while it waits (a throttled send's reserved slot). */
  | { kind: 'later'; at: number; result?: Record<string, unknown> }
  /** An ask sent: the step waits (`scheduled`) for an answer or its timeout at `timeoutAt`. */
  | { kind: 'asked'; result: Record<string, unknown>; timeoutAt: number }
  | { kind: 'failed'; error: string }
  /** Not done, on purpose (a stale reminder): the step is `skipped` with its reason and the run goes on; `endRun`: the run ends there (done). */
  | { kind: 'skipped'; result: Record<string, unknown>; endRun?: true };

export interface StepContext {
  loaded: LoadedWorkflows;
  workflow: Workflow;
  run: RunRecord;
  event: WorkflowEventRecord;
  /** undefined: a scheduled run (its steps are wait, if and webhook: the loader allows no other). */
  customer: Customer | undefined;
  row: StepRecord;
  sends: Pick<FallbackSends, 'send'>;
  storage: Storage;
  /** The run's steps as far as they got (where an escalate finds the run's last send). */
  steps(): Promise<StepRecord[]>;
  /** The core's escalation of a conversation from outside a customer turn. */
  escalate(conversationId: string, req: EscalateRequest): Promise<unknown>;
  now: number;
  env: Readonly<Record<string, string | undefined>>;
  /** The time a send on this channel may go (the per-channel rate limit; src/workflows/throttle.ts). */
  throttle(channel: string | undefined): Promise<number>;
}

/** The customer's zone: the event's, else their own, else the workflow's. */
export const zoneOf = (c: StepContext): string => c.event.timezone ?? c.customer?.timezone ?? c.workflow.timezone;
const localeOf = (c: StepContext): string => c.event.locale ?? c.customer?.locale ?? 'en';

/** A step context with the run's customer. */
type ToCustomer = StepContext & { customer: Customer };
const hasCustomer = (c: StepContext): c is ToCustomer => c.customer !== undefined;

export async function runStep(step: Step, c: StepContext): Promise<Outcome> {
  switch (step.action) {
    case 'wait': {
      const due = c.row.dueAt ?? ('forMs' in step ? c.now + step.forMs : Date.parse(String(c.event.data[step.until.field])) + step.until.offsetMs);
      if (Number.isNaN(due)) return { kind: 'failed', error: `wait ${step.id}: ${'until' in step ? step.until.field : ''} is no date` };
      return due > c.now ? { kind: 'later', at: due } : { kind: 'done', result: { until: new Date(due).toISOString() } };
    }
    case 'if': {
      const holds = evaluate(step.condition, c.event.data, {});
      return { kind: 'done', result: { branch: holds ? 'then' : 'else', condition: step.condition.source } };
    }
    case 'webhook':
      return webhook(step, c);
  }
  // The steps that talk to the customer (a scheduled run has none: its file could not name them).
  if (!hasCustomer(c)) return { kind: 'failed', error: `${step.action} ${step.id}: this run has no customer (a scheduled run)` };
  switch (step.action) {
    case 'send':
      return stale(step, c) ?? skipOptedOut(step, c) ?? send(step, c);
    case 'ask':
      return stale(step, c) ?? ask(step, c);
    case 'escalate':
      return escalate(step, c);
  }
}

/** The conversation a run talks in: the one its last send went to, else the customer's latest. */
async function runConversation(c: ToCustomer): Promise<string | undefined> {
  const steps = await c.steps();
  for (const s of [...steps].reverse()) {
    const sendId = s.status === 'done' ? s.result?.sendId : undefined;
    if (typeof sendId !== 'string') continue;
    const messageId = (await c.storage.proactiveSends.get(sendId))?.messageId;
    const message = messageId ? await c.storage.messages.get(messageId) : undefined;
    if (message) return message.conversationId;
  }
  return (await c.storage.conversations.ofCustomer(c.customer.id)).at(-1)?.id;
}

/** Hands the run's conversation to the desk, once per (run, step): the escalation id is `wf:<runId>:<stepId>`. */
async function escalate(step: EscalateStep, c: ToCustomer): Promise<Outcome> {
  const conversationId = await runConversation(c);
  if (!conversationId) return { kind: 'failed', error: `escalate ${step.id}: the customer has no conversation to hand over (send or ask something first)` };
  const escalationId = `wf:${c.run.id}:${step.id}`;
  let note: string | undefined;
  if (step.note !== undefined) {
    const locale = localeOf(c);
    const vars = runVars(c.workflow.trigger.data, c.event.data, { locale, timeZone: zoneOf(c), ...(c.customer.displayName ? { customerName: c.customer.displayName } : {}) });
    note = renderMessage({ inline: step.note }, vars, locale, c.loaded.templates);
  }
  await c.escalate(conversationId, { escalationId, reason: 'workflow', priority: step.priority, actor: 'system', noteAuthor: `workflow:${c.workflow.name}`, ...(note ? { note } : {}) });
  return { kind: 'done', result: { conversationId, escalationId } };
}

/** The channels of a send: `preferred` is the customer's preferred channel; none left -> the core's default order. */
function channelsOf(step: SendStep | AskStep, customer: Customer): ChannelName[] {
  const out = step.channels.flatMap((ch) => (ch === 'preferred' ? (customer.preferredChannel ? [customer.preferredChannel] : []) : [ch]));
  return [...new Set(out)];
}

/**
 * A send or ask past its `skipAfter` (e.g. a renewal reminder after the renewal date, because the
 * hub was down or the send waited for quiet hours to end) is skipped, not sent late; an ask already
 * sent and waiting is not stale any more.
 */
function stale(step: SendStep | AskStep, c: ToCustomer): Outcome | undefined {
  if (!step.skipAfter || typeof c.row.result?.sendId === 'string') return undefined;
  const limit = Date.parse(String(c.event.data[step.skipAfter.field])) + step.skipAfter.offsetMs;
  if (Number.isNaN(limit) || c.now <= limit) return undefined;
  return { kind: 'skipped', result: { reason: `stale: past ${step.skipAfter.source} (${new Date(limit).toISOString()})` } };
}

/** An ask sends its question like a send (once: the key), then waits; asked already (a redelivered job), it waits on. */
async function ask(step: AskStep, c: ToCustomer): Promise<Outcome> {
  if (c.row.status === 'scheduled' && typeof c.row.result?.sendId === 'string' && c.row.dueAt !== null) return { kind: 'asked', result: c.row.result, timeoutAt: c.row.dueAt };
  const skipped = skipOptedOut(step, c);
  if (skipped) return skipped;
  const sent = await send(step, c);
  return sent.kind === 'done' ? { kind: 'asked', result: sent.result, timeoutAt: c.now + step.timeoutMs } : sent;
}

/**
 * A customer who opted out of the workflow's kind (src/workflows/opt-out.ts) gets no send or ask
 * of it, but for the `urgent` steps of an `alert` workflow (a risk alert is for their protection):
 * the step is `skipped` with its reason and the run ends there (done) — its later sends would go to
 * the same customer with the same kind, and a skipped ask escalates nothing.
 */
function skipOptedOut(step: SendStep | AskStep, c: ToCustomer): Outcome | undefined {
  if (step.urgent && c.workflow.kind === 'alert') return undefined;
  const at = optedOutAt(c.customer, c.workflow.kind);
  if (at === undefined) return undefined;
  return { kind: 'skipped', result: { reason: `opted out (${c.workflow.kind}) at ${at}` }, endRun: true };
}

async function send(step: SendStep | AskStep, c: ToCustomer): Promise<Outcome> {
  const zone = zoneOf(c);
  // A send due in quiet hours waits for their end (once: at the end it is not quiet any more).
  if (!step.urgent && c.row.dueAt === null) {
    const at = afterQuietHours(new Date(c.now), c.workflow.quietHours, zone).getTime();
    if (at > c.now) return { kind: 'later', at };
  }
  const locale = localeOf(c);
  const vars = runVars(c.workflow.trigger.data, c.event.data, { locale, timeZone: zone, ...(c.customer.displayName ? { customerName: c.customer.displayName } : {}) });
  const text = renderMessage(step.message, vars, locale, c.loaded.templates);
  if (text === undefined) return { kind: 'failed', error: `${step.action} ${step.id}: no text for locale ${locale}` };
  const channels = channelsOf(step, c.customer);
  // The channel's rate limit: a slot reserved earlier is this step's (it waited for it); else reserve one.
  const reserved = holdsRateSlot(c.row.result, c.row.dueAt);
  if (!reserved) {
    const at = await c.throttle(channels[0] ?? c.customer.preferredChannel ?? undefined);
    if (at > c.now) return { kind: 'later', at, result: { slotAt: at } };
  }
  try {
    const { send: s } = await c.sends.send({
      customerId: c.customer.id,
      content: { text },
      ...(channels.length ? { channels } : {}),
      kind: c.workflow.kind,
      key: `wf:${c.run.id}:${step.id}`,
    });
    return { kind: 'done', result: { sendId: s.id } };
  } catch (err) {
    if (isHubError(err, 'RECIPIENT_UNREACHABLE')) return { kind: 'failed', error: `${step.action} ${step.id}: ${err.message}` };
    throw err;
  }
}


/** POSTs the run's event to the business, signed like the outgoing webhooks; a refusal or network error is retried. */
async function webhook(step: WebhookStep, c: StepContext): Promise<Outcome> {
  const secret = c.env[step.secretEnv];
  if (!secret) return { kind: 'failed', error: `webhook ${step.id}: the environment variable ${step.secretEnv} (its signing secret) is not set` };
  const id = `${c.run.id}/${step.id}`;
  const body = JSON.stringify({
    id,
    type: 'workflow.step',
    workflow: c.workflow.name,
    runId: c.run.id,
    step: step.id,
    event: { id: c.event.id, type: c.event.type, data: c.event.data, createdAt: new Date(c.event.createdAt).toISOString() },
    customer: c.customer ? { id: c.customer.id, ...(c.customer.externalId ? { externalId: c.customer.externalId } : {}) } : null,
  });
  let res: Response;
  try {
    res = await fetch(step.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'Switchboard-Workflows/1', 'switchboard-event-id': id, 'switchboard-signature': signatureHeader(secret, body, Date.now() / 1000) },
      body,
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new HubError('NETWORK', `webhook ${step.id}: ${errorMessage(err)}`, { retry: 'retry' });
  }
  await res.body?.cancel().catch(() => undefined);
  if (res.status >= 200 && res.status < 300) return { kind: 'done', result: { statusCode: res.status } };
  throw new HubError('NETWORK', `webhook ${step.id}: HTTP ${res.status}`, { retry: 'retry' });
}
