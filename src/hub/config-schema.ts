/**
 * hub.yaml as this hub assembles it: the generic sections from `src/config`, the knowledge bot's
 * `bot` and `llm` sections, and one `channels:` block per registered channel. The composition root
 * is the one place that knows every module; `src/config` stays a leaf.
 */
import type { z } from 'zod';
import { channelConfigSchemas } from '../adapters/registry.js';
import { createConfigLoader } from '../config/load.js';
import { buildConfigSchema } from '../config/schema.js';
import { botConfigSchema } from '../knowledge/config.js';
import { llmConfigSchema } from '../knowledge/llm.js';
import { webhooksConfigSchema } from '../webhooks/config.js';
import { analyticsConfigSchema } from '../analytics/config.js';
import { identityConfigSchema } from '../core/customers/config.js';

const botSchema = botConfigSchema.strict().describe('Knowledge bot: thresholds, human keywords, strikes, knowledge folder.');

export const hubConfigSchema = buildConfigSchema({
  modules: {
    bot: botSchema.default(botSchema.parse({})),
    llm: llmConfigSchema
      .strict()
      .optional()
      .describe('OpenAI-compatible LLM (OpenAI, DeepSeek, Qwen/DashScope, Ollama, vLLM); absent = local engine only.'),
    webhooks: webhooksConfigSchema.default([]),
    analytics: analyticsConfigSchema.default(analyticsConfigSchema.parse({})),
    identity: identityConfigSchema.default(identityConfigSchema.parse({})),
  },
  channels: channelConfigSchemas(),
});

export type HubConfig = z.infer<typeof hubConfigSchema>;
export type HubConfigInput = z.input<typeof hubConfigSchema>;

/** Reads hub.yaml against `hubConfigSchema`; errors name file, line, field and the fix. */
export const { loadConfigFile, parseConfigText } = createConfigLoader(hubConfigSchema);
