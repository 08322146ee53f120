/**
 * JSON schemas of the API routes: Fastify checks requests with them (400 naming the field) and
 * serializes answers with them, and @fastify/swagger turns them into `/api/openapi.json`.
 * A field added to an answer must be added here too (the serializer drops what it does not list).
 */
import type { Button, ChannelName } from '../core/types.js';

export const str = (description: string, extra: Record<string, unknown> = {}) => ({ type: 'string', description, ...extra }) as const;
export const nullableStr = (description: string) => ({ type: ['string', 'null'], description }) as const;
export const time = (description: string) => ({ type: 'string', format: 'date-time', description }) as const;
const nullableTime = (description: string) => ({ type: ['string', 'null'], format: 'date-time', description }) as const;
const error = {
  type: 'object',
  properties: { error: { type: 'string' }, code: { type: 'string' }, field: { type: 'string', description: 'The request field at fault, e.g. body.customer.externalId' } },
  required: ['error'],
} as const;
export const errors = (...codes: number[]) => Object.fromEntries(codes.map((c) => [c, { ...error, description: ERROR_TEXT[c] ?? 'Error' }]));
const ERROR_TEXT: Record<number, string> = {
  400: 'The request is malformed; `field` names what is wrong',
  401: 'No valid API token',
  403: 'The token lacks the role',
  404: 'Not found; the message says what was looked up',
  409: 'Conflicts with what is stored (`field` names it)',
  422: 'The customer has no reachable identity on the channels tried',
  429: 'Rate limited (Retry-After)',
};

export const CHANNEL = { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,31}$', description: 'A channel name: telegram, wechat, webchat, email, slack…' } as const;

export interface SendBody {
  customer: { externalId?: string; identities?: { channel: ChannelName; id: string }[] };
  text?: string;
  template?: string;
  vars?: Record<string, string | number>;
  locale?: string;
  channels?: ChannelName[];
  buttons?: Button[];
}

export const sendMessage = {
  summary: 'Send a customer a message (proactive), falling back across channels',
  tags: ['messages'],
  headers: {
    type: 'object',
    properties: { 'idempotency-key': str('Repeating a key answers 200 with the first answer and sends nothing', { maxLength: 255 }) },
  },
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['customer'],
    properties: {
      customer: {
        type: 'object',
        additionalProperties: false,
        description: 'Who: the business’s id of the customer, or identities on channels (either finds them)',
        properties: {
          externalId: str('The business’s own customer id (given to the customer the identities find, the first time)', { minLength: 1, maxLength: 200 }),
          identities: {
            type: 'array',
            minItems: 1,
            maxItems: 20,
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['channel', 'id'],
              properties: { channel: CHANNEL, id: str('The platform user id as the channel reports it', { minLength: 1, maxLength: 320 }) },
            },
          },
        },
      },
      text: str('The text to send (or template)', { minLength: 1, maxLength: 20000 }),
      template: str('A template of config/templates/messages.yaml (or text)', { minLength: 1, maxLength: 200 }),
      vars: { type: 'object', additionalProperties: { anyOf: [{ type: 'string', maxLength: 2000 }, { type: 'number' }] }, description: 'The template’s variables, exactly those it uses' },
      locale: str('Which locale of the template (default: the customer’s, else the hub’s)', { minLength: 2, maxLength: 35 }),
      channels: { type: 'array', items: CHANNEL, minItems: 1, maxItems: 10, description: 'Channels in the order to try (default: preferred, then most recently used)' },
      buttons: {
        type: 'array',
        maxItems: 10,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['label', 'value'],
          properties: { label: str('Shown on the button', { minLength: 1, maxLength: 64 }), value: str('Sent back when pressed', { minLength: 1, maxLength: 256 }) },
        },
      },
    },
  },
  response: {
    200: { description: 'The same Idempotency-Key again: the first answer, nothing sent', ...queued() },
    202: { description: 'Stored and queued', ...queued() },
    ...errors(400, 401, 403, 404, 409, 422, 429),
  },
} as const;

function queued() {
  return { type: 'object', required: ['id', 'status'], properties: { id: str('The message id (GET /api/messages/{id})'), status: { type: 'string', enum: ['queued'] } } } as const;
}

export const idParam = (what: string) => ({ type: 'object', required: ['id'], properties: { id: str(`The ${what} id`, { minLength: 1, maxLength: 100 }) } }) as const;

export const getMessage = {
  summary: 'A proactive message’s status and its attempts per channel',
  tags: ['messages'],
  params: idParam('message'),
  response: {
    200: {
      type: 'object',
      properties: {
        id: str('The message id'),
        status: { type: 'string', enum: ['queued', 'sent', 'failed'] },
        customerId: str('The customer'),
        channels: { type: 'array', items: { type: 'string' }, description: 'The order tried' },
        attempts: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              channel: { type: 'string' },
              status: { type: 'string', enum: ['queued', 'sent', 'failed', 'skipped'] },
              at: time('When it was queued, sent, failed or skipped'),
              error: str('Why it failed or was skipped'),
            },
          },
        },
        createdAt: time('When the message was accepted'),
      },
    },
    ...errors(401, 403, 404),
  },
} as const;

const identity = {
  type: 'object',
  properties: {
    channel: { type: 'string' },
    id: str('The platform user id'),
    displayName: nullableStr('As the platform gave it'),
    verified: { type: 'boolean' },
    reachable: { type: 'boolean', description: 'false after a send failed for good (blocked, invalid address)' },
    unreachableSince: time('When it became unreachable'),
    unreachableReason: nullableStr('Why'),
  },
} as const;

const conversationSummary = {
  id: { type: 'string' },
  channel: { type: 'string' },
  status: { type: 'string', enum: ['bot', 'waiting_agent', 'agent', 'resolved'] },
  assignee: nullableStr('The agent on it'),
  createdAt: time('Opened'),
  updatedAt: time('Last change'),
  resolvedAt: nullableTime('Resolved'),
} as const;

const customer = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    externalId: nullableStr('The business’s id'),
    displayName: nullableStr('Name'),
    locale: nullableStr('Locale'),
    timezone: nullableStr('IANA time zone'),
    preferredChannel: nullableStr('Where proactive messages go first'),
    tags: { type: 'array', items: { type: 'string' } },
    createdAt: time('First seen'),
    updatedAt: time('Last change'),
    identities: { type: 'array', items: identity },
    conversations: { type: 'array', items: { type: 'object', properties: conversationSummary } },
  },
} as const;

export const getCustomer = {
  summary: 'A customer: profile, identities, conversations',
  tags: ['customers'],
  params: idParam('customer'),
  response: { 200: customer, ...errors(401, 403, 404) },
} as const;

export const findCustomerByExternalId = {
  summary: 'The customer the business knows by externalId',
  tags: ['customers'],
  querystring: { type: 'object', required: ['externalId'], additionalProperties: false, properties: { externalId: str('The business’s id', { minLength: 1, maxLength: 200 }) } },
  response: { 200: customer, ...errors(400, 401, 403, 404) },
} as const;

const message = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    direction: { type: 'string', enum: ['in', 'out'] },
    author: { type: 'string', enum: ['customer', 'bot', 'agent', 'system'] },
    authorName: nullableStr('The agent’s name'),
    channel: { type: 'string' },
    kind: { type: 'string' },
    text: { type: 'string' },
    buttons: { type: 'array', items: { type: 'object', properties: { label: { type: 'string' }, value: { type: 'string' } } } },
    attachments: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, mimeType: { type: 'string' }, size: { type: 'integer' } } } },
    createdAt: time('Received or decided'),
    delivery: { type: 'string', enum: ['pending', 'sent', 'failed'], description: 'Outbound only' },
    sentAt: nullableTime('Outbound only'),
    error: str('Outbound only: why it failed'),
  },
} as const;

export const getConversation = {
  summary: 'A conversation with its latest messages, oldest first',
  tags: ['conversations'],
  params: idParam('conversation'),
  querystring: { type: 'object', additionalProperties: false, properties: { limit: { type: 'integer', minimum: 1, maximum: 500, default: 50, description: 'How many of the latest messages' } } },
  response: {
    200: {
      type: 'object',
      properties: {
        ...conversationSummary,
        customerId: { type: 'string' },
        priority: nullableStr('Set on escalation'),
        escalationReason: nullableStr('Why it went to a person'),
        messages: { type: 'array', items: message },
      },
    },
    ...errors(400, 401, 403, 404),
  },
} as const;

export const getDeliveries = {
  summary: 'The webhook delivery log, newest first',
  tags: ['webhooks'],
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      endpoint: str('One endpoint: its name, or its URL when hub.yaml names none', { minLength: 1 }),
      status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
      limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
    },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        deliveries: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              id: { type: 'string' },
              endpoint: { type: 'string' },
              eventId: { type: 'string' },
              eventType: { type: 'string' },
              conversationId: { type: 'string' },
              status: { type: 'string', enum: ['pending', 'delivered', 'failed'] },
              attempts: { type: 'integer', description: 'POSTs made so far' },
              lastStatusCode: { type: ['integer', 'null'] },
              lastError: nullableStr('Why the last attempt failed'),
              nextAttemptAt: nullableTime('Pending only'),
              createdAt: time('When the event was recorded for the endpoint'),
              deliveredAt: nullableTime('Delivered'),
            },
          },
        },
      },
    },
    ...errors(400, 401, 403),
  },
} as const;
