/**
 * Consent not to have messages stored (issue #16, docs/identity.md): a customer who writes one of
 * the configured phrases ("不要保存记录", "don't store my messages"; `consent_no_store_phrases` in
 * config/templates/identity.yaml) gets a confirmation, and from then on the text (and attachment
 * metadata) of each of their messages is emptied in storage as soon as the turn has been decided:
 * the bot reads it, answers, and it is gone. Messages relayed to a person are kept (the person must
 * read them, as is the message that hands over). `consent_store_phrases` undoes it. The flag is `consent.noStore = { at, word, channel }`.
 *
 * This handler goes first in the chain, so it wraps every other one (an email claim, a code...).
 */
import type { Templates } from '../templates.js';
import type { Storage } from '../storage/storage.js';
import type { Customer } from '../model.js';
import { normalizeLocale } from '../locale.js';
import { emptyPlan, type TurnHandler } from '../conversation/turn.js';

export const CONSENT_TEXTS = {
  noStorePhrases: 'consent_no_store_phrases',
  storePhrases: 'consent_store_phrases',
  noStoreDone: 'consent_no_store_done',
  storeDone: 'consent_store_done',
} as const;

/** How a message is compared with the phrases: NFKC, lowercase, one space, no closing punctuation, ’ as '. */
export function normalizePhrase(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[.。!！~～]+$/u, '')
    .trim();
}

/** The phrases of a key in every shipped locale (`|` between phrases). */
function phrases(texts: Templates, key: string): Set<string> {
  const out = new Set<string>();
  for (const locale of ['zh', 'en']) for (const p of texts.render(key, locale).split('|')) if (normalizePhrase(p) !== '') out.add(normalizePhrase(p));
  return out;
}

export function storesNothing(customer: Customer): boolean {
  const v = customer.consent.noStore;
  return v !== undefined && v !== null && v !== false;
}

export function consentTurn(d: { storage: Storage; texts: Templates; now(): number }): TurnHandler {
  const noStore = phrases(d.texts, CONSENT_TEXTS.noStorePhrases);
  const store = phrases(d.texts, CONSENT_TEXTS.storePhrases);
  return {
    name: 'consent',
    async handle(turn, next) {
      const said = turn.msg.kind === 'text' ? normalizePhrase(turn.msg.text ?? '') : '';
      const asksNoStore = noStore.has(said);
      if (asksNoStore || (store.has(said) && storesNothing(turn.customer))) {
        const record = { at: new Date(d.now()).toISOString(), word: (turn.msg.text ?? '').trim().slice(0, 100), channel: turn.msg.channel };
        await d.storage.customers.updateConsent(turn.customer.id, (consent) => {
          const { noStore: _was, ...rest } = consent;
          return asksNoStore ? { ...rest, noStore: record } : rest;
        });
        const locale = normalizeLocale(turn.msg.locale) ?? normalizeLocale(turn.customer.locale) ?? turn.locale;
        return { ...emptyPlan(), replies: [{ author: 'system', text: d.texts.render(asksNoStore ? CONSENT_TEXTS.noStoreDone : CONSENT_TEXTS.storeDone, locale) }] };
      }
      if (!storesNothing(turn.customer)) return next();
      const plan = await next();
      // Decided: the bot has read it. A message for a person (relayed, or the one that hands over) is kept.
      const forPerson = plan.toAgent === true || plan.patch.status === 'waiting_agent' || plan.patch.status === 'agent';
      if (!forPerson) await d.storage.redaction.redact(turn.message.id);
      return plan;
    },
  };
}
