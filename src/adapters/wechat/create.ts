import type { AdapterDeps } from '../define.js';
import { WechatAdapter } from './adapter.js';
import type { WechatAdapterOptions, WechatConfig } from './config.js';
import { checkPuppetToken } from './puppet.js';

/** Builds the adapter; the third argument carries test hooks (a mock puppet, a virtual clock). */
export function createWechatAdapter(config: WechatConfig, deps: AdapterDeps, options: WechatAdapterOptions = {}): WechatAdapter {
  if (config.enabled && !options.puppetInstance) checkPuppetToken(config.puppet, config.puppetToken);
  return new WechatAdapter(config, deps, options);
}
