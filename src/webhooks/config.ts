/**
 * The `webhooks:` section of hub.yaml: endpoints that receive conversation events, each with the
 * event types it wants and the secret its requests are signed with.
 */
import { z } from 'zod';
import { eventCatalogue, isEventType, type EventType } from '../core/events.js';

/** Every event type of the core's catalogue, in catalogue order. */
export const EVENT_TYPES = Object.keys(eventCatalogue) as EventType[];

const MIN_SECRET = 16;

const endpointSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_.:/@-]{0,199}$/, 'must start with a letter or digit and hold only letters, digits and _ . : / @ - (at most 200)')
      .optional()
      .describe('Shown in logs and the delivery log (default: the URL). Name an endpoint whose URL holds a credential.'),
    url: z
      .string()
      .max(2000, 'must be at most 2000 characters')
      .url('must be an absolute http(s) URL, e.g. https://example.com/switchboard')
      .refine((u) => /^https?:$/.test(new URL(u).protocol), 'must be an http:// or https:// URL')
      .describe('Where the events are POSTed.'),
    events: z
      .array(z.enum(['*', ...EVENT_TYPES], { error: (issue) => `unknown event type ${JSON.stringify(issue.input)}: use "*" or one of ${EVENT_TYPES.join(', ')}` }))
      .min(1, 'list the event types to send, or "*" for all of them')
      .describe('Event types POSTed to this endpoint ("*": all).'),
    secret: z
      .string()
      .min(MIN_SECRET, `must be at least ${MIN_SECRET} characters (e.g. \`openssl rand -hex 32\`), written as \${ENV_VAR}`)
      .describe('Key of the HMAC-SHA256 signature (use ${ENV}).'),
    timeoutMs: z.number().int().min(1000).max(60_000).default(10_000).describe('Timeout of one POST; a timeout is retried like a network error.'),
  })
  .strict();

export const webhooksConfigSchema = z
  .array(endpointSchema)
  .superRefine((endpoints, ctx) => {
    endpoints.forEach((e, i) => {
      const name = e.name ?? e.url;
      const j = endpoints.findIndex((o) => (o.name ?? o.url) === name);
      if (j < i) ctx.addIssue({ code: 'custom', path: [i, e.name ? 'name' : 'url'], message: `"${name}" also names webhooks[${j}]: give each endpoint its own name` });
    });
  })
  .describe('Endpoints that receive conversation events as signed JSON POSTs.');

export type WebhookEndpointConfig = z.output<typeof endpointSchema>;
export type WebhooksConfig = z.output<typeof webhooksConfigSchema>;

/** An endpoint as the delivery uses it. */
export interface WebhookEndpoint {
  name: string;
  url: string;
  secret: string;
  timeoutMs: number;
  /** The event types it wants; null = all. */
  types: readonly EventType[] | null;
}

export function endpointsOf(config: WebhooksConfig): WebhookEndpoint[] {
  return config.map((e) => ({
    name: e.name ?? e.url,
    url: e.url,
    secret: e.secret,
    timeoutMs: e.timeoutMs,
    types: e.events.includes('*') ? null : [...new Set(e.events.filter((t) => t !== '*'))],
  }));
}

export function wants(e: WebhookEndpoint, type: string): boolean {
  return e.types === null ? isEventType(type) : e.types.includes(type as EventType);
}
