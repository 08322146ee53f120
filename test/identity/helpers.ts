import type { InboundMessage } from '../../src/core/types.js';
import type { Storage } from '../../src/core/storage/storage.js';
import { recordInbound } from '../../src/core/conversation/inbound.js';

let seq = 0;

/** A customer message on `channel` from `userId` (a fresh platform message id each call). */
export function inbound(channel: string, userId: string, text = 'hi', more: Partial<InboundMessage> = {}): InboundMessage {
  seq += 1;
  return {
    channel,
    platformMessageId: `m${seq}-${Math.random().toString(36).slice(2, 8)}`,
    platformUserId: userId,
    userName: `${channel} user ${userId}`,
    ref: { channel, chatId: userId },
    kind: 'text',
    text,
    attachments: [],
    receivedAt: Date.now(),
    ...more,
  };
}

/** Stores a customer message the way the pipeline does (identity, routing, message). */
export function say(storage: Storage, channel: string, userId: string, text = 'hi') {
  return recordInbound(storage, inbound(channel, userId, text), { reopenWindowMs: 0 });
}

/** The texts of a customer's messages, oldest first. */
export async function textsOf(storage: Storage, customerId: string): Promise<string[]> {
  return (await storage.messages.ofCustomer(customerId, 1000)).map((m) => m.text);
}
