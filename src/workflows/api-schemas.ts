/**
 * OpenAPI schemas of the events API (`/api/openapi.json`). The request body is documented here but
 * checked by the engine (src/workflows/event.ts) against the event type's `data` schema of the
 * workflow files, which a hot reload may change: the route's validator accepts any JSON and the
 * engine answers 400 naming the field. Answers are serialized with these schemas, so every field
 * an answer carries is listed.
 */
const str = (description: string, extra: Record<string, unknown> = {}) => ({ type: 'string', description, ...extra }) as const;
const nullable = (description: string, extra: Record<string, unknown> = {}) => ({ type: ['string', 'null'], description, ...extra }) as const;
const error = (description: string) =>
  ({ description, type: 'object', required: ['error'], properties: { error: { type: 'string' }, code: { type: 'string' }, field: { type: 'string', description: 'The request field at fault, e.g. body.data.dueAt' } } }) as const;
const errors = {
  400: error('The event is malformed, of an unknown type, or its data does not fit the type (`field` names what)'),
  401: error('No valid API token'),
  403: error('The token lacks the events role'),
} as const;

const accepted = (description: string) =>
  ({
    description,
    type: 'object',
    required: ['id', 'runs'],
    properties: {
      id: str('The event id (GET /api/events/{id})'),
      runs: { type: 'array', items: { type: 'object', required: ['id', 'workflow'], properties: { id: str('Run id'), workflow: str('The workflow (file name without .yaml)') } } },
    },
  }) as const;

export const postEvent = {
  summary: 'Tell the workflows about an event in your system (starts and cancels runs)',
  tags: ['events'],
  headers: { type: 'object', properties: { 'idempotency-key': str('The same key again answers 200 with the same event and starts nothing (1–255 visible ASCII characters)', { maxLength: 255 }) } },
  body: {
    type: 'object',
    required: ['type', 'customer', 'data'],
    properties: {
      type: str('An event type the workflow files declare (e.g. subscription.expiring)'),
      customer: {
        type: 'object',
        description: 'Who it is about; unknown customers are created with these identities (unverified)',
        properties: {
          externalId: str('The business’s own customer id'),
          identities: { type: 'array', items: { type: 'object', required: ['channel', 'id'], properties: { channel: str('Channel name'), id: str('Platform user id on that channel') } } },
          locale: str('zh or en (their messages’ language)'),
          timezone: str('IANA time zone for quiet hours and dates (e.g. Asia/Shanghai)'),
        },
      },
      data: { type: 'object', additionalProperties: true, description: 'The fields the event type declares in its workflow file, of their types (datetime: ISO 8601 with a zone)' },
      correlationKey: str('Ties this event to later ones that cancel its runs, when the type names no data field for it'),
    },
  },
  response: { 200: accepted('The same Idempotency-Key again: the first answer, nothing started'), 202: accepted('Stored; its runs started'), ...errors, 409: error('The Idempotency-Key was used for another event') },
} as const;

const step = {
  type: 'object',
  properties: {
    id: str('Step id'),
    action: { type: 'string', enum: ['send', 'wait', 'ask', 'escalate', 'if', 'webhook', 'unknown'] },
    status: { type: 'string', enum: ['pending', 'scheduled', 'done', 'skipped', 'cancelled', 'failed'] },
    dueAt: nullable('Until when a scheduled step waits', { format: 'date-time' }),
    result: { type: 'object', additionalProperties: true, description: 'What the step did: the send id, the wait’s time, the branch, the ask’s answer, a skip’s reason' },
    error: str('Why the step failed'),
    updatedAt: nullable('Last change', { format: 'date-time' }),
  },
} as const;

export const getEvent = {
  summary: 'An event, the runs it started and each step’s state',
  tags: ['events'],
  params: { type: 'object', required: ['id'], properties: { id: str('The event id', { minLength: 1, maxLength: 100 }) } },
  response: {
    200: {
      type: 'object',
      properties: {
        id: str('Event id'),
        type: str('Event type (`schedule` for a cron tick, the core event’s for a conversation trigger)'),
        customerId: nullable('The customer (null for a scheduled run)'),
        correlationValue: nullable('The value later events cancel its runs by'),
        data: { type: 'object', additionalProperties: true },
        createdAt: nullable('When it was taken', { format: 'date-time' }),
        runs: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              id: str('Run id'),
              workflow: str('Workflow'),
              version: str('The workflow version it runs on'),
              status: { type: 'string', enum: ['running', 'done', 'cancelled', 'failed'] },
              error: str('Why the run failed'),
              createdAt: nullable('Started', { format: 'date-time' }),
              updatedAt: nullable('Last change', { format: 'date-time' }),
              steps: { type: 'array', items: step },
            },
          },
        },
      },
    },
    401: errors[401],
    403: errors[403],
    404: error('No such event'),
  },
} as const;
