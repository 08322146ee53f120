/** JSON schemas of the identity routes (src/api/identity.ts): merge, unlink, audit, export, erase, link tokens. */
import { CHANNEL, errors, idParam, nullableStr, str, time } from './schemas.js';
import { AUDIT_ACTIONS } from '../core/storage/identity-rows.js';

const reason = str('Why (kept in the audit log)', { minLength: 1, maxLength: 1000 });
const agent = str('The person acting, when the token is shared by a desk (kept in the audit log with the token’s name)', { minLength: 1, maxLength: 200 });

export interface MergeBody {
  from: string;
  reason: string;
  agent?: string;
}
export const mergeCustomers = {
  summary: 'Merge another customer into this one (identities, conversations, history); reversible by unlink',
  tags: ['identity'],
  params: idParam('surviving customer'),
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['from', 'reason'],
    properties: { from: str('The id of the customer merged into this one', { minLength: 1, maxLength: 100 }), reason, agent },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        mergeId: { type: 'string' },
        customerId: { type: 'string' },
        mergedId: { type: 'string' },
        moved: { type: 'object', properties: { identities: { type: 'integer' }, conversations: { type: 'integer' }, proactiveSends: { type: 'integer' }, workflowRuns: { type: 'integer' } } },
        auditId: { type: 'string' },
      },
    },
    ...errors(400, 401, 403, 404, 409),
  },
} as const;

export interface UnlinkBody {
  channel: string;
  id: string;
  reason: string;
  agent?: string;
}
export const unlinkIdentity = {
  summary: 'Take an identity (and what came through it) out of this customer, back to a customer of its own',
  tags: ['identity'],
  params: idParam('customer'),
  body: {
    type: 'object',
    additionalProperties: false,
    required: ['channel', 'id', 'reason'],
    properties: { channel: CHANNEL, id: str('The platform user id on that channel', { minLength: 1, maxLength: 320 }), reason, agent },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        customerId: { type: 'string', description: 'The customer the identity belongs to now' },
        fromCustomerId: { type: 'string' },
        restored: { type: 'boolean', description: 'true: the customer it came from by a merge, under its own id again' },
        identities: { type: 'integer' },
        conversations: { type: 'integer' },
        auditId: { type: 'string' },
      },
    },
    ...errors(400, 401, 403, 404, 409),
  },
} as const;

export const getAudit = {
  summary: 'The audit log (links, merges, unlinks, exports, erases), newest first',
  tags: ['identity'],
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      customerId: str('Entries about this customer', { minLength: 1, maxLength: 100 }),
      action: { type: 'string', enum: [...AUDIT_ACTIONS] },
      before: str('Entries older than this entry id (paging)', { pattern: '^[0-9]{1,18}$' }),
      limit: { type: 'integer', minimum: 1, maximum: 500, default: 100 },
    },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        entries: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              id: { type: 'string' },
              at: time('When'),
              actor: { type: 'object', properties: { kind: { type: 'string', enum: ['token', 'agent', 'customer', 'system'] }, name: { type: 'string' } } },
              action: { type: 'string' },
              customerId: nullableStr('The customer acted on (the survivor of a merge)'),
              otherCustomerId: nullableStr('The other customer (merged, or given back its identity)'),
              reason: nullableStr('Why, as given'),
              details: { type: 'object', additionalProperties: true },
            },
          },
        },
      },
    },
    ...errors(400, 401, 403),
  },
} as const;

export const exportCustomer = {
  summary: 'Everything held about a customer, as JSON (audited)',
  tags: ['identity'],
  params: idParam('customer'),
  response: {
    200: {
      type: 'object',
      properties: {
        customerId: { type: 'string' },
        exportedAt: time('When'),
        tables: { type: 'object', additionalProperties: true, description: 'Rows by table, as stored' },
        audit: { type: 'array', items: { type: 'object', additionalProperties: true } },
      },
    },
    ...errors(401, 403, 404, 409),
  },
} as const;

export const eraseCustomer = {
  summary: 'Erase a customer: messages, identities, profile; a tombstone keeps the counts (audited)',
  tags: ['identity'],
  params: idParam('customer'),
  querystring: { type: 'object', additionalProperties: false, properties: { reason: str('Why (kept in the audit log)', { maxLength: 1000 }) } },
  response: {
    200: {
      type: 'object',
      properties: {
        customerId: { type: 'string' },
        erased: { type: 'boolean' },
        tombstone: { type: 'object', additionalProperties: true, description: 'What is kept: counts only' },
      },
    },
    ...errors(401, 403, 404, 409),
  },
} as const;

export interface LinkTokenBody {
  ttlMinutes?: number;
  channels?: string[];
}
export const createLinkTokens = {
  summary: 'Single-use signed link tokens for a customer the business knows by externalId, with ready-made links',
  tags: ['identity'],
  params: {
    type: 'object',
    required: ['externalId'],
    properties: { externalId: str('The business’s own customer id (a customer is made when none has it yet)', { minLength: 1, maxLength: 200 }) },
  },
  body: {
    type: ['object', 'null'],
    additionalProperties: false,
    properties: {
      ttlMinutes: { type: 'integer', minimum: 1, maximum: 1440, description: 'How long the tokens work (default 15)' },
      channels: { type: 'array', items: CHANNEL, minItems: 1, maxItems: 5, description: 'Which channels (default: telegram and webchat; add email for a reply address)' },
    },
  },
  response: {
    201: {
      type: 'object',
      properties: {
        customerId: { type: 'string' },
        expiresAt: time('When the tokens stop working'),
        links: {
          type: 'object',
          additionalProperties: {
            type: 'object',
            properties: {
              token: { type: 'string' },
              url: nullableStr('A ready-made link (null when the channel has none, e.g. Telegram before its bot username is known); email: a mailto: link to `address`'),
              address: nullableStr('email only: the reply address carrying the token as a plus-address tag (`support+link-<tag>@example.com`); a mail sent to it links the sender'),
            },
          },
        },
      },
    },
    ...errors(400, 401, 403, 409),
  },
} as const;

export interface PreferenceBody {
  preferredChannel: string | null;
  agent?: string;
}
export const setPreferredChannel = {
  summary: "Set (or clear) the customer's preferred channel: where proactive messages go first",
  description:
    'Set: proactive messages (POST /api/messages without channels, workflows’ `preferred`) go there first until cleared, whichever channel the customer writes on. ' +
    'null: the preferred channel follows the customer again (after a link, the channel they most recently wrote from). docs/identity.md "Preferred channel".',
  tags: ['identity'],
  params: idParam('customer'),
  body: {
    type: 'object',
    required: ['preferredChannel'],
    additionalProperties: false,
    properties: {
      preferredChannel: { anyOf: [CHANNEL, { type: 'null' }], description: 'A channel the customer has an identity on, or null' },
      agent: str('The agent’s name, recorded with the choice', { minLength: 1, maxLength: 100 }),
    },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        customerId: { type: 'string' },
        preferredChannel: nullableStr('Where proactive messages go first now'),
        explicit: { type: 'boolean', description: 'true: set by the business; false: follows the customer' },
      },
    },
    ...errors(400, 401, 403, 404),
  },
} as const;
