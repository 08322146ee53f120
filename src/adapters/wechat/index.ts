import { defineAdapter } from '../define.js';
import { CHANNEL, wechatConfigSchema } from './config.js';

export type { WechatAdapter } from './adapter.js';
export { CHANNEL, wechatConfigSchema, type WechatAdapterOptions, type WechatConfig } from './config.js';

/** `channels.wechat` — see WechatAdapter and config.ts for the options. wechaty loads when enabled. */
export const wechatAdapter = defineAdapter({
  channel: CHANNEL,
  configSchema: wechatConfigSchema,
  create: async (config, deps) => (await import('./create.js')).createWechatAdapter(config, deps),
});
