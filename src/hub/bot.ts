import type { Hub } from './hub.js';
import type { Responder } from '../core/responder.js';
import { KnowledgeBot } from '../knowledge/bot.js';
import { createLlmAnswerer } from '../knowledge/llm.js';

/**
 * The knowledge bot from config: `bot` thresholds over the YAML files in `bot.knowledgeDir`
 * (hot-reloaded), with the LLM from `llm` when configured — also for agent-facing summaries.
 */
export async function createResponder(hub: Hub): Promise<Responder> {
  const { bot, llm } = hub.config;
  const log = hub.log.child({ component: 'knowledge' });
  // One client for answers (when bot.useLlm) and for agent-facing summaries.
  const answerer = llm ? createLlmAnswerer(llm, log) : undefined;
  const kb = await KnowledgeBot.create({ dir: bot.knowledgeDir, bot, ...(answerer && bot.useLlm ? { answerer } : {}), log, watch: true });
  if (!answerer) return kb;
  return {
    respond: (turn) => kb.respond(turn),
    suggest: (text, locale, n) => kb.suggest(text, locale, n),
    summarize: (messages, locale) => answerer.summarize({ locale, messages }),
    close: () => kb.close(),
  };
}
