import { defineAdapter } from '../define.js';
import { TelegramAdapter } from './adapter.js';
import { assertUsable, telegramConfigSchema, type TelegramConfig } from './config.js';

export { TelegramAdapter } from './adapter.js';
export { telegramConfigSchema, type TelegramConfig, type TelegramConfigInput } from './config.js';

/** `channels.telegram` — see TelegramAdapter and config.ts for the options. */
export const telegramAdapter = defineAdapter<TelegramConfig>({
  channel: 'telegram',
  configSchema: telegramConfigSchema,
  create(config, deps) {
    assertUsable(config);
    return new TelegramAdapter(config, deps.log);
  },
});
