/**
 * Opt-out of proactive messages (issue #15, delivery rules). A customer message that is exactly
 * one of the opt-out words (`optOutWords` of the workflows' `_defaults.yaml`; by default 退订, TD,
 * STOP, unsubscribe — trimmed, case-insensitive, full-width letters as half-width, a trailing
 * full stop or exclamation mark ignored) opts the customer out of every workflow kind (reminder
 * and alert): "STOP" means stop, whichever workflow last wrote. It is recorded in the customer's
 * consent flags (`consent.optOut.<kind> = { at, word, channel }`, the first opt-out kept) and
 * confirmed with one reply in the customer's locale; the bot never sees the message. "START" or
 * "订阅" from a customer who opted out opts them back in (the flags removed, confirmed); from
 * anyone else it is an ordinary message. The engine's `send` and `ask` steps skip an opted-out
 * customer (engine-steps.ts), except the `urgent` steps of `alert` workflows (a risk alert).
 */
import { emptyPlan, type TurnHandler } from '../core/conversation/turn.js';
import { normalizeLocale } from '../core/locale.js';
import type { Customer } from '../core/model.js';
import type { Storage } from '../core/storage/storage.js';
import type { JsonObject } from '../core/types.js';
import { WORKFLOW_KINDS, type WorkflowKind } from './types.js';

/** Replies that undo an opt-out (only from a customer who opted out). */
export const OPT_IN_WORDS = ['START', '订阅'] as const;

const CONFIRM = {
  optOut: {
    zh: '您已退订，我们将不再主动向您发送提醒和通知。回复“订阅”可重新接收。',
    en: "You're unsubscribed: we won't send you reminders or notifications any more. Reply START to subscribe again.",
  },
  optIn: {
    zh: '您已重新订阅，我们会继续向您发送提醒和通知。回复“退订”可随时退订。',
    en: "You're subscribed again: we'll keep sending you reminders and notifications. Reply STOP to opt out at any time.",
  },
} as const;

/** A reply as compared with the words: NFKC (full-width letters and digits half-width), trimmed, lower case, one trailing `.`/`!`/`。` dropped. */
export function normalizeWord(text: string): string {
  return text
    .normalize('NFKC')
    .trim()
    .replace(/[.!。]$/u, '')
    .trim()
    .toLowerCase();
}

/** The ISO time the customer opted out of this kind, undefined when they did not. */
export function optedOutAt(customer: Pick<Customer, 'consent'>, kind: WorkflowKind): string | undefined {
  const all = customer.consent.optOut;
  const entry = all && typeof all === 'object' && !Array.isArray(all) ? all[kind] : undefined;
  const at = entry && typeof entry === 'object' && !Array.isArray(entry) ? entry.at : undefined;
  return typeof at === 'string' ? at : undefined;
}

/** The turn handler: before the workflows' ask answers and the bot. `words` is read per message (a hot reload may change them). */
export function optOut(d: { storage: Pick<Storage, 'customers'>; words: () => readonly string[]; now(): number }): TurnHandler {
  let words: readonly string[] | undefined;
  let stop = new Set<string>();
  const stopWords = (): Set<string> => {
    const now = d.words();
    if (now !== words) {
      words = now;
      stop = new Set(now.map(normalizeWord).filter((w) => w !== ''));
    }
    return stop;
  };
  const start = new Set(OPT_IN_WORDS.map(normalizeWord));
  return {
    name: 'workflow-opt-out',
    async handle(turn, next) {
      if (turn.msg.kind === 'button' || turn.msg.kind === 'command') return next();
      const word = normalizeWord(turn.msg.text);
      const optingOut = stopWords().has(word);
      if (!optingOut && !(start.has(word) && WORKFLOW_KINDS.some((k) => optedOutAt(turn.customer, k) !== undefined))) return next();
      const record = { at: new Date(d.now()).toISOString(), word: turn.msg.text.trim(), channel: turn.msg.channel };
      await d.storage.customers.updateConsent(turn.customer.id, (consent) => {
        if (!optingOut) {
          const { optOut: _gone, ...rest } = consent;
          return rest;
        }
        const before = consent.optOut && typeof consent.optOut === 'object' && !Array.isArray(consent.optOut) ? consent.optOut : {};
        const kinds: JsonObject = { ...before };
        for (const k of WORKFLOW_KINDS) kinds[k] ??= record;
        return { ...consent, optOut: kinds };
      });
      const locale = normalizeLocale(turn.customer.locale) ?? turn.locale;
      const texts = optingOut ? CONFIRM.optOut : CONFIRM.optIn;
      return { ...emptyPlan(), replies: [{ author: 'system', text: locale === 'zh' ? texts.zh : texts.en }] };
    },
  };
}
