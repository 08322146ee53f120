/**
 * Shape of a knowledge YAML file. A file holds `entries: [...]` (or a bare list). Texts that the
 * customer sees are "localized": a plain string, or `{ zh: ..., en: ... }`.
 *
 *   entries:
 *     - id: order_status
 *       questions: { zh: [我的订单什么时候发货], en: [where is my order] }   # or a flat list
 *       answer: { zh: "订单 {{order_no}} 状态：{{status}}", en: "Order {{order_no}}: {{status}}" }
 *       tags: [orders]
 *       buttons: [{ label: { zh: 退款, en: Refund }, value: "entry:refund_policy" }]
 *       slots: [{ name: order_no, pattern: "\\d{6,}", prompt: { zh: 请提供订单号, en: Your order number? } }]
 *       action: { url: "https://shop.example/api/orders/{{order_no}}", headers: { Authorization: "Bearer ${SHOP_TOKEN}" }, timeoutMs: 3000 }
 *       onActionFailure: { escalate: true, text: { zh: ..., en: ... } }
 *       status: approved            # `pending` entries are skipped
 */
import { z } from 'zod';
import { localeText } from '../core/templates.js';
import { actionSpecSchema } from './action.js';

export const localizedSchema = z.union([z.string().min(1), z.record(z.string(), z.string().min(1))]);
export type Localized = z.infer<typeof localizedSchema>;

export const slotSchema = z.object({
  name: z.string().regex(/^[A-Za-z_][\w]*$/, 'slot names are letters, digits and _'),
  /** Regular expression that finds the value in a message (first capture group, or the whole match). */
  pattern: z
    .string()
    .refine((p) => {
      try {
        new RegExp(p, 'u');
        return true;
      } catch {
        return false;
      }
    }, 'not a valid regular expression')
    .optional(),
  prompt: localizedSchema,
});
export type SlotSpec = z.infer<typeof slotSchema>;

export const buttonSchema = z.object({ label: localizedSchema, value: z.string().min(1) });

export const entrySchema = z.object({
  id: z.string().regex(/^[\w.:-]+$/, 'ids are letters, digits, _ . : -'),
  questions: z.union([
    z.array(z.string().min(1)).min(1),
    z.record(z.string(), z.array(z.string().min(1)).min(1)),
  ]),
  answer: localizedSchema,
  tags: z.array(z.string()).default([]),
  buttons: z.array(buttonSchema).optional(),
  slots: z.array(slotSchema).optional(),
  action: actionSpecSchema.optional(),
  onActionFailure: z
    .object({ escalate: z.boolean().default(true), text: localizedSchema.optional() })
    .optional(),
  status: z.enum(['approved', 'pending']).optional(),
});
export type EntryInput = z.infer<typeof entrySchema>;

export const fileSchema = z.union([z.object({ entries: z.array(z.unknown()) }), z.array(z.unknown())]);

/** A loaded, validated entry. */
export interface KnowledgeEntry extends EntryInput {
  /** Example questions, all locales together. */
  examples: string[];
  /** Where it was defined, for error messages. */
  source: { file: string; line: number };
}

/** The text for `locale`, falling back to its language, en, zh, then the first given ('' for none). */
export function pickLocale(text: Localized, locale: string): string {
  return localeText(text, locale) ?? '';
}

/** `{{name}}` and `{{a.b}}` substitution; unknown names become empty. */
export function fillTemplate(template: string, vars: Record<string, unknown>): string {
  return template.replace(/\{\{\s*([\w.]+)\s*\}\}/g, (_, path: string) => {
    let v: unknown = vars;
    for (const part of path.split('.')) {
      v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[part] : undefined;
    }
    if (v === undefined || v === null) return '';
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  });
}
