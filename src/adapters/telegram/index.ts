import { defineAdapter } from '../define.js';
import { assertUsable, telegramConfigSchema, type TelegramConfig } from './config.js';

export type { TelegramAdapter } from './adapter.js';
export { telegramConfigSchema, type TelegramConfig, type TelegramConfigInput } from './config.js';

/** `channels.telegram` — see TelegramAdapter and config.ts for the options. grammY loads when enabled. */
export const telegramAdapter = defineAdapter<TelegramConfig>({
  channel: 'telegram',
  configSchema: telegramConfigSchema,
  async create(config, deps) {
    assertUsable(config);
    const { TelegramAdapter } = await import('./adapter.js');
    return new TelegramAdapter(config, deps.log);
  },
});
