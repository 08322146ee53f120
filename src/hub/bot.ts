import type { Hub } from './hub.js';
import type { Responder } from '../core/responder.js';
import { KnowledgeBot } from '../core/knowledge/bot.js';
import { createLlmAnswerer } from '../core/knowledge/llm.js';

/**
 * The knowledge bot from config: `bot` thresholds over the YAML files in `bot.knowledgeDir`
 * (hot-reloaded), with the LLM from `llm` when configured — also for agent-facing summaries.
 */
export async function createResponder(hub: Hub): Promise<Responder> {
  const { bot, llm } = hub.config;
  const log = hub.log.child({ component: 'knowledge' });
  const kb = await KnowledgeBot.create({ dir: bot.knowledgeDir, bot, ...(llm ? { llm } : {}), log, watch: true });
  if (!llm) return kb;
  const answerer = createLlmAnswerer(llm, log);
  return {
    respond: (turn) => kb.respond(turn),
    suggest: (text, locale, n) => kb.suggest(text, locale, n),
    summarize: (messages, locale) => answerer.summarize({ locale, messages }),
    close: () => kb.close(),
  };
}
