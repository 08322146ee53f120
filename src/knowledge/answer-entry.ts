/** Answering one chosen entry: its text and buttons, or its slot dialogue and action. */
import type { Logger } from 'pino';
import { errorMessage } from '../core/errors.js';
import type { BotDecision, ResponderTurn } from '../core/responder.js';
import type { JsonObject } from '../core/types.js';
import { callAction } from './action.js';
import { fillTemplate, pickLocale, type KnowledgeEntry } from './schema.js';
import { fillSlots, missingSlot, writeSlotState } from './slots.js';
import type { Snapshot } from './snapshot.js';
import { text as tpl } from './templates.js';

/** Answers one entry, running its slot dialogue and action when it has them. */
export async function answerEntry(
  ctx: { snap: Snapshot; log: Logger | undefined },
  entry: KnowledgeEntry,
  turn: ResponderTurn,
  confidence: number,
  prior: Record<string, string>,
  sentiment?: number,
  ranked?: string[],
): Promise<BotDecision> {
  const locale = turn.locale;
  const entryIds = [entry.id, ...(ranked ?? []).filter((id) => id !== entry.id)];
  const buttons = entry.buttons?.map((b) => ({ label: pickLocale(b.label, locale), value: b.value }));
  const base = { confidence, entryIds, ...(sentiment !== undefined ? { sentiment } : {}) };
  if (!entry.slots?.length && !entry.action) {
    return { kind: 'answer', text: pickLocale(entry.answer, locale), ...(buttons?.length ? { buttons } : {}), ...base, state: writeSlotState(turn.state, undefined) };
  }
  const values = fillSlots(entry, prior, turn.text ?? '');
  const missing = missingSlot(entry, values);
  if (missing) {
    return { kind: 'answer', text: pickLocale(missing.prompt, locale), ...base, state: writeSlotState(turn.state, { entryId: entry.id, values, asks: 1 }) };
  }
  const cleared: JsonObject = writeSlotState(turn.state, undefined);
  if (!entry.action) {
    return { kind: 'answer', text: fillTemplate(pickLocale(entry.answer, locale), values), ...(buttons?.length ? { buttons } : {}), ...base, state: cleared };
  }
  try {
    const result = await callAction(entry.action, values);
    const text = fillTemplate(pickLocale(entry.answer, locale), { ...result, ...values, result });
    return { kind: 'answer', text, ...(buttons?.length ? { buttons } : {}), ...base, state: cleared };
  } catch (err) {
    ctx.log?.warn({ conversationId: turn.conversationId, entryId: entry.id, error: errorMessage(err) }, 'knowledge action failed');
    const escalate = entry.onActionFailure?.escalate ?? true;
    const custom = entry.onActionFailure?.text;
    const text = custom ? pickLocale(custom, locale) : tpl(ctx.snap.templates, escalate ? 'actionFailedEscalate' : 'actionFailed', locale);
    if (escalate) return { kind: 'escalate', reason: 'action_failed', priority: 'normal', text, ...base, state: cleared };
    return { kind: 'answer', text, ...base, unresolved: true, state: cleared };
  }
}
