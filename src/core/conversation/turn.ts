import type { Conversation, Customer, Identity, StoredMessage } from '../model.js';
import type { NewEvent } from '../events.js';
import type { ConversationPatch } from '../model.js';
import type { Button, InboundMessage } from '../types.js';
import { HubError } from '../errors.js';

/** One customer message, as the turn handlers see it. */
export interface Turn {
  msg: InboundMessage;
  /** The stored inbound message. */
  message: StoredMessage;
  customer: Customer;
  identity: Identity;
  conversation: Conversation;
  /** `zh`, `en`..., detected from the text or the customer's profile. */
  locale: string;
}

export interface TurnReply {
  author: 'bot' | 'system';
  text: string;
  buttons?: Button[];
}

/** What a turn decides, as data: the pipeline commits it in one transaction. */
export interface Plan {
  patch: ConversationPatch;
  replies: TurnReply[];
  events: NewEvent[];
  /** The message went to a person (relayed to the case) instead of the bot. */
  toAgent?: boolean;
}

export const emptyPlan = (): Plan => ({ patch: {}, replies: [], events: [] });

/**
 * One link of a customer's turn: answer it (return a plan) or pass it on with `next()`. Calling
 * `next` twice is an error. The chain (CSAT answer, commands, relay to an agent, the bot...) is
 * assembled by the composition root, so a later module (a workflow question waiting for "1" or "2",
 * an identity code) takes a message before the bot without touching the pipeline.
 */
export interface TurnHandler {
  readonly name: string;
  handle(turn: Turn, next: () => Promise<Plan>): Promise<Plan>;
}

/** Runs `handlers` in order; past the last one, `next()` gives an empty plan. */
export function composeTurn(handlers: readonly TurnHandler[]): (turn: Turn) => Promise<Plan> {
  return (turn) => {
    const run = (i: number): Promise<Plan> => {
      const h = handlers[i];
      if (!h) return Promise.resolve(emptyPlan());
      let called = false;
      return h.handle(turn, () => {
        if (called) return Promise.reject(new HubError('INTERNAL', `turn handler ${h.name} called next() twice`));
        called = true;
        return run(i + 1);
      });
    };
    return run(0);
  };
}
