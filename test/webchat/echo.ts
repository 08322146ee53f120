import type { BotDecision, Responder, ResponderTurn } from '../../src/core/responder.js';

/** Echoes text (and button presses), offering a "More" button; optionally slow, to see typing dots. */
export class EchoResponder implements Responder {
  constructor(private readonly delayMs = 0) {}

  async respond(turn: ResponderTurn): Promise<BotDecision> {
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    if (turn.kind === 'button') return { kind: 'answer', text: `echo: ${turn.text} (${turn.buttonValue ?? ''})` };
    return { kind: 'answer', text: `echo: ${turn.text}`, buttons: [{ label: 'More', value: 'more' }], confidence: 0.9 };
  }
}
