import { defineAdapter, type AdapterDeps } from '../define.js';
import { WechatAdapter } from './adapter.js';
import { CHANNEL, wechatConfigSchema, type WechatAdapterOptions, type WechatConfig } from './config.js';
import { checkPuppetToken } from './puppet.js';

export { WechatAdapter } from './adapter.js';
export { CHANNEL, wechatConfigSchema, type WechatAdapterOptions, type WechatConfig } from './config.js';

/** Builds the adapter; the third argument carries test hooks (a mock puppet, a virtual clock). */
export function createWechatAdapter(config: WechatConfig, deps: AdapterDeps, options: WechatAdapterOptions = {}): WechatAdapter {
  if (config.enabled && !options.puppetInstance) checkPuppetToken(config.puppet, config.puppetToken);
  return new WechatAdapter(config, deps, options);
}

/** `channels.wechat` — see WechatAdapter and config.ts for the options. */
export const wechatAdapter = defineAdapter({
  channel: CHANNEL,
  configSchema: wechatConfigSchema,
  create: (config, deps) => createWechatAdapter(config, deps),
});
