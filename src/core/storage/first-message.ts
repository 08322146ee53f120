/**
 * PostgreSQL: the first message of a sender nobody knows, in one statement: their customer,
 * identity and conversation and the message row, as data-modifying `WITH` parts of one query, and
 * no transaction around it (a statement is atomic). One round trip instead of six (`BEGIN`, four
 * inserts, `COMMIT`).
 *
 * When the identity was written meanwhile (a second message of the same sender racing this one:
 * a unique violation) or the message is stored already (its dedupe key: the insert skips it and
 * the query then divides by zero), the statement fails as a whole, nothing is written, and the
 * caller takes the transaction that reads what is there.
 */
import { sql, type Kysely } from 'kysely';
import type { Conversation, Customer, Identity, StoredMessage } from '../model.js';
import type { InboundMessage } from '../types.js';
import type { ConversationRepo } from './conversations.js';
import type { CustomerRepo } from './customers.js';
import { withIdentityTables } from './identity-rows.js';
import type { MessageRepo } from './messages.js';
import { isDivisionByZero, isUniqueViolation } from './rows.js';
import type { Database } from './tables.js';

export interface FirstMessageRepos {
  readonly customers: CustomerRepo;
  readonly conversations: ConversationRepo;
  readonly messages: MessageRepo;
}

export interface FirstMessage {
  customer: Customer;
  identity: Identity;
  conversation: Conversation;
  message: StoredMessage;
}

/** Writes the first message of `msg`'s sender with everything it needs; undefined (nothing written) when someone was first. */
export async function writeFirstMessage(db: Kysely<Database>, repos: FirstMessageRepos, msg: InboundMessage, threadKey: string | null): Promise<FirstMessage | undefined> {
  const { customerRow, customer, identityRow, identity } = repos.customers.newSender(msg);
  const { row: conversationRow, conversation } = repos.conversations.newConversation(customer.id, msg.channel, threadKey);
  const { row: messageRow, message } = repos.messages.newInbound(msg, conversation.id, customer.id);
  const insertMessage = db
    .insertInto('messages')
    .values(messageRow)
    .onConflict((oc) => oc.column('dedupe_key').doNothing())
    .returning('id');
  try {
    await sql`with cu as (${db.insertInto('customers').values(customerRow)}), i as (${withIdentityTables(db).insertInto('identities').values(identityRow)}), cv as (${db.insertInto('conversations').values(conversationRow)}), m as (${insertMessage}) select 1 / (select count(*) from m) as fresh`.execute(db);
  } catch (err) {
    // Someone was first: the message is stored (the division by zero), or the identity (a unique violation).
    if (isDivisionByZero(err) || isUniqueViolation(err)) return undefined;
    throw err;
  }
  return { customer, identity, conversation, message };
}
