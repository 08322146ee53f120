/**
 * An event as the events API will take it, `{ type, customer, data, correlationKey? }`, checked
 * against the data schema its workflow files declare: problems come back by field
 * (`data.dueAt: must be an ISO 8601 …`).
 */
import { z } from 'zod';
import { formatPath } from '../config/yaml-source.js';
import { dataZodSchema } from './fields.js';
import type { DataSchema } from './types.js';
import { isTimeZone } from './zone.js';

export const eventCustomerSchema = z.strictObject({
  externalId: z.string().min(1).max(200).optional(),
  identities: z.array(z.strictObject({ channel: z.string().min(1), id: z.string().min(1) })).optional(),
  locale: z.string().regex(/^[a-z]{2}(-[A-Za-z0-9]{2,8})?$/, 'must be a locale like zh-CN or en').optional(),
  timezone: z.string().refine(isTimeZone, 'must be an IANA time zone like Asia/Shanghai').optional(),
});

export interface WorkflowEvent {
  type: string;
  customer: z.output<typeof eventCustomerSchema>;
  data: Record<string, unknown>;
  correlationKey?: string;
}

export interface EventProblem {
  field: string;
  message: string;
}

/**
 * The event's zod schema, built once per loaded data schema and type (building one cost more than
 * checking an event with it: bench/reminders.ts). A reload makes new data schema objects, so the
 * old entries go with them.
 */
const schemas = new WeakMap<DataSchema, Map<string, z.ZodType>>();
function eventSchema(type: string, data: DataSchema): z.ZodType<{ customer: WorkflowEvent['customer']; data: Record<string, unknown>; correlationKey?: string | undefined }> {
  let byType = schemas.get(data);
  if (!byType) schemas.set(data, (byType = new Map()));
  let schema = byType.get(type);
  if (!schema) {
    schema = z.strictObject({
      type: z.literal(type, { error: `must be ${type} (the event this workflow starts on)` }).optional(),
      customer: eventCustomerSchema.default({}),
      data: dataZodSchema(data),
      correlationKey: z.string().min(1).optional(),
    });
    byType.set(type, schema);
  }
  return schema as z.ZodType<{ customer: WorkflowEvent['customer']; data: Record<string, unknown>; correlationKey?: string | undefined }>;
}

/** `input` as an event of `type` with this data schema, or its problems by field. */
export function checkEvent(input: unknown, type: string, data: DataSchema): { event: WorkflowEvent } | { problems: EventProblem[] } {
  const schema = eventSchema(type, data);
  // reportInput: zod 4 leaves the input off an issue unless asked ("is required" needs it).
  const parsed = schema.safeParse(input, { reportInput: true });
  if (!parsed.success) {
    return {
      problems: parsed.error.issues.map((i) =>
        i.code === 'unrecognized_keys'
          ? { field: formatPath([...i.path, i.keys[0] ?? '']), message: `unknown field(s) ${i.keys.join(', ')}${i.path[0] === 'data' ? ` (data has ${Object.keys(data).join(', ')})` : ''}` }
          : { field: formatPath(i.path), message: i.code === 'invalid_type' && i.input === undefined ? 'is required' : i.message },
      ),
    };
  }
  const { correlationKey, customer, data: values } = parsed.data;
  return { event: { type, customer, data: values, ...(correlationKey === undefined ? {} : { correlationKey }) } };
}
