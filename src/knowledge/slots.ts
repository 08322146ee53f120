/**
 * Slot dialogue of action entries: pull slot values out of messages, remember what is still
 * missing in the conversation state, and ask for it. A value that cannot fill its place in the
 * action's URL (`..`, `a/b`, `x?y=1`, see url-slots.ts) is not taken: the bot asks again as for any
 * value it could not read.
 */
import type { JsonObject } from '../core/types.js';
import type { KnowledgeEntry, SlotSpec } from './schema.js';
import { urlSlotParts, urlSlotProblem } from './url-slots.js';

export interface SlotState {
  entryId: string;
  values: Record<string, string>;
  /** Times we asked for the current missing slot. */
  asks: number;
}

const STATE_KEY = 'slots';

export function readSlotState(state: JsonObject): SlotState | undefined {
  const raw = state[STATE_KEY];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const entryId = raw.entryId;
  const values = raw.values;
  const asks = raw.asks;
  if (typeof entryId !== 'string' || typeof values !== 'object' || values === null || Array.isArray(values)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(values)) if (typeof v === 'string') out[k] = v;
  return { entryId, values: out, asks: typeof asks === 'number' ? asks : 0 };
}

export function writeSlotState(state: JsonObject, slots: SlotState | undefined): JsonObject {
  const next: JsonObject = { ...state };
  if (slots) next[STATE_KEY] = { entryId: slots.entryId, values: { ...slots.values }, asks: slots.asks };
  else delete next[STATE_KEY];
  return next;
}

/** Value of one slot found in `text`, if any. Without a pattern, a short message is the value. */
export function extractSlot(slot: SlotSpec, text: string): string | undefined {
  const t = text.trim();
  if (!t) return undefined;
  if (slot.pattern) {
    const m = new RegExp(slot.pattern, 'u').exec(t);
    if (!m) return undefined;
    return (m[1] ?? m[0]).trim() || undefined;
  }
  return t.length <= 64 ? t : undefined;
}

/** Fills every slot that has a pattern and is found in `text` (patternless ones only when asked). */
export function fillSlots(entry: KnowledgeEntry, values: Record<string, string>, text: string, asking?: string): Record<string, string> {
  const out = { ...values };
  const inUrl = entry.action ? urlSlotParts(entry.action.url) : [];
  for (const slot of entry.slots ?? []) {
    if (out[slot.name] !== undefined) continue;
    if (!slot.pattern && slot.name !== asking) continue;
    const v = extractSlot(slot, text);
    if (v === undefined) continue;
    if (inUrl.some((u) => u.name === slot.name && urlSlotProblem(v, u.part) !== undefined)) continue;
    out[slot.name] = v;
  }
  return out;
}

export function missingSlot(entry: KnowledgeEntry, values: Record<string, string>): SlotSpec | undefined {
  return (entry.slots ?? []).find((s) => values[s.name] === undefined);
}
