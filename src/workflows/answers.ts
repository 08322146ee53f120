/**
 * The workflows' link in the core's turn chain, before the bot: a customer's message that answers
 * a waiting `ask` of theirs (it matches one of its choices) is taken by the engine (the step is done
 * with the answer, its branch queued) and gets no reply of its own; any other message goes on to
 * the bot. An answer after the ask's timeout is an ordinary message.
 */
import { emptyPlan, type TurnHandler } from '../core/conversation/turn.js';
import type { WorkflowEngine } from './engine.js';

export function askAnswers(engine: Pick<WorkflowEngine, 'answer'>): TurnHandler {
  return {
    name: 'workflow-answers',
    async handle(turn, next) {
      const text = turn.msg.kind === 'button' ? (turn.msg.buttonValue ?? turn.msg.text) : turn.msg.text;
      if (!text.trim() || !(await engine.answer(turn.customer.id, text, turn.message.id))) return next();
      return emptyPlan();
    },
  };
}
