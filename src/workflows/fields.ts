/**
 * The data schema of an event as written in a workflow file, `{ subscriptionId: string,
 * dueAt: datetime, note: string? }` (a `?` makes the field optional), and the zod schema that
 * checks an event's `data` against it.
 */
import { z } from 'zod';
import { FIELD_TYPES, type DataSchema, type FieldSpec, type FieldType } from './types.js';

export const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

/** A field's type as written (`string`, `datetime?`); a problem message when it is not one. */
export function parseFieldType(text: unknown): FieldSpec | { problem: string } {
  const s = typeof text === 'string' ? text.trim() : '';
  const optional = s.endsWith('?');
  const type = optional ? s.slice(0, -1).trim() : s;
  if ((FIELD_TYPES as readonly string[]).includes(type)) return { type: type as FieldType, optional };
  return { problem: `${JSON.stringify(text)} is not a field type: use ${FIELD_TYPES.join(', ')} (add ? for an optional field, e.g. string?)` };
}

const ISO_DATETIME = z.iso.datetime({ offset: true, error: 'must be an ISO 8601 date and time with a zone, e.g. 2025-03-14T09:00:00+08:00 or …Z' });

function fieldSchema(spec: FieldSpec): z.ZodType {
  const base: z.ZodType = {
    string: z.string().min(1, 'must not be empty'),
    number: z.number({ error: 'must be a number' }),
    integer: z.number({ error: 'must be a number' }).int('must be a whole number'),
    boolean: z.boolean({ error: 'must be true or false' }),
    datetime: ISO_DATETIME,
  }[spec.type];
  return spec.optional ? base.optional() : base;
}

/** The zod schema of `data`: the declared fields, no others. */
export function dataZodSchema(schema: DataSchema): z.ZodType<Record<string, unknown>> {
  const shape: Record<string, z.ZodType> = {};
  for (const [name, spec] of Object.entries(schema)) shape[name] = fieldSchema(spec);
  return z.strictObject(shape) as unknown as z.ZodType<Record<string, unknown>>;
}

/** `{ a: string, b: datetime? }`: a schema as the files write it (messages, conflicts). */
export function formatDataSchema(schema: DataSchema): string {
  const fields = Object.entries(schema).map(([k, f]) => `${k}: ${f.type}${f.optional ? '?' : ''}`);
  return `{ ${fields.join(', ')} }`;
}

/** The data the core's conversation events carry to a workflow they start. */
export const CONVERSATION_DATA: Readonly<Record<string, DataSchema>> = {
  escalated: {
    escalationId: { type: 'string', optional: false },
    reason: { type: 'string', optional: false },
    priority: { type: 'string', optional: false },
  },
  resolved: { agentId: { type: 'string', optional: false } },
  'csat.given': { score: { type: 'integer', optional: false } },
};
