import type { Responder } from '../../src/core/responder.js';
import { KnowledgeBot } from '../../src/knowledge/bot.js';
import { botConfigSchema } from '../../src/knowledge/config.js';

/** The bench's questions: the demo knowledge base's, in both languages. */
export const BENCH_QUESTIONS = ['how do I reset my password', '怎么退款？', 'how can I get an invoice', '怎么修改收货地址'];

/** The hub's own knowledge bot on the demo knowledge base (config/knowledge), or a fixed answer. */
export async function benchResponder(kind: string): Promise<Responder> {
  if (kind === 'fixed') return { usesHistory: false, respond: async () => ({ kind: 'answer', text: 'You can reset your password in Settings.' }) };
  if (kind !== 'knowledge') throw new Error(`--responder: knowledge or fixed, not ${kind}`);
  return KnowledgeBot.create({ dir: 'config/knowledge', bot: botConfigSchema.parse({}) });
}
