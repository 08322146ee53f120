/**
 * Customer-facing texts of the bot. Code defaults (zh + en) below; `_templates.yaml` in the
 * knowledge directory overrides any key per locale, e.g. `clarify: { zh: "您是想问：", en: "Did you mean:" }`.
 * Rendered by the core's renderer (locale fallback, `{{var}}`); `templateVars` says which
 * variables a key's texts may use, and the loader rejects a text that uses any other.
 */
import { z } from 'zod';
import { renderText, undeclaredVars, type PlaceholderProblem, type TemplateVars } from '../core/templates.js';
import { localizedSchema, type Localized } from './schema.js';

export const defaultTemplates = {
  clarify: { zh: '您是想问以下哪个问题？', en: 'Did you mean one of these?' },
  lowConfidence: {
    zh: '抱歉，这个问题我暂时无法回答，正在为您转接人工客服。',
    en: "Sorry, I can't answer that one myself. I'm bringing in a colleague.",
  },
  askHuman: { zh: '好的，正在为您转接人工客服，请稍候。', en: 'Sure, I am connecting you with a person. One moment please.' },
  angry: {
    zh: '非常抱歉给您带来不好的体验，我马上请人工客服来处理。',
    en: "I'm really sorry about this. I'm getting a person to help you right away.",
  },
  notHelpful: {
    zh: '抱歉没能帮到您。能换个说法描述一下您的问题吗？',
    en: "Sorry that didn't help. Could you describe your question in other words?",
  },
  empty: {
    zh: '您好！请问有什么可以帮您？可以直接输入您的问题。',
    en: 'Hello! How can I help you? Just type your question.',
  },
  askSlot: { zh: '请提供{{slot}}。', en: 'Could you give me your {{slot}}?' },
  slotInvalid: {
    zh: '抱歉，这个格式好像不太对。',
    en: "Sorry, that doesn't look right.",
  },
  actionFailed: {
    zh: '抱歉，系统暂时无法查询，请稍后再试。',
    en: "Sorry, I can't look that up right now. Please try again in a moment.",
  },
  actionFailedEscalate: {
    zh: '抱歉，系统暂时无法查询，我请人工客服来帮您。',
    en: "Sorry, I can't look that up right now. I'm handing you over to a colleague.",
  },
  cancelled: { zh: '好的，已取消。还有什么可以帮您？', en: 'OK, cancelled. Anything else I can help with?' },
  greeting: { zh: '您好！请问有什么可以帮您？', en: 'Hello! How can I help you today?' },
  help: { zh: '好的，请直接描述您遇到的问题。', en: 'Sure. What can I help you with? Just type your question.' },
  thanks: { zh: '不客气！还有什么可以帮您的吗？', en: "You're welcome! Is there anything else I can help with?" },
  ack: { zh: '好的。还有什么可以帮您的吗？', en: 'All right. Is there anything else I can help with?' },
  goodbye: { zh: '感谢您的咨询，祝您生活愉快，再见！', en: 'Thanks for reaching out. Have a great day, goodbye!' },
} satisfies Record<string, Localized>;

export type TemplateKey = keyof typeof defaultTemplates;
export type Templates = Record<TemplateKey, Localized>;

/** The variables of each key's texts (keys not listed take none): the name of the slot asked for. */
export const templateVars = {
  askSlot: ['slot'],
  slotInvalid: ['slot'],
} as const satisfies Partial<Record<TemplateKey, readonly string[]>>;

export const templatesFileSchema = z
  .object(
    Object.fromEntries(Object.keys(defaultTemplates).map((k) => [k, localizedSchema.optional()])) as Record<
      TemplateKey,
      z.ZodOptional<typeof localizedSchema>
    >,
  )
  .strict();

export function mergeTemplates(overrides: { readonly [K in TemplateKey]?: Localized | undefined }): Templates {
  const out: Templates = { ...defaultTemplates };
  for (const key of Object.keys(defaultTemplates) as TemplateKey[]) {
    const o = overrides[key];
    if (o === undefined) continue;
    const base = defaultTemplates[key];
    out[key] = typeof o === 'string' ? o : { ...base, ...o };
  }
  return out;
}

/** Placeholders in `texts` that their key does not take (`templateVars`). */
export function templateProblems(texts: { readonly [K in TemplateKey]?: Localized | undefined }): PlaceholderProblem[] {
  return undeclaredVars(texts, templateVars);
}

/** The text of `key` in `locale` (else its language, English, Chinese, any) with `vars` filled in. */
export function text(t: Templates, key: TemplateKey, locale: string, vars: TemplateVars = {}): string {
  return renderText(t[key], locale, vars) ?? '';
}
