import { z } from 'zod';
import type { AdapterFactory, DeskFactory } from './define.js';
import { telegramAdapter } from './telegram/index.js';
import { webchatAdapter } from './webchat/index.js';
import { wechatAdapter } from './wechat/index.js';
import { emailAdapter } from './email/index.js';
import { slackCustomers, slackDesk } from './slack/index.js';

/** The one list of channels: adding a channel is its folder plus one line here. */
export const adapterFactories: readonly AdapterFactory[] = [webchatAdapter, telegramAdapter, wechatAdapter, emailAdapter, slackCustomers];

/** Agent desks; the first enabled one takes escalations. */
export const deskFactories: readonly DeskFactory[] = [slackDesk];

/** `channels:` section of hub.yaml: one optional block per registered channel, nothing else. */
export function channelConfigSchemas() {
  const shape: Record<string, z.ZodOptional<z.ZodType>> = {};
  for (const f of [...adapterFactories, ...deskFactories]) shape[f.channel] = f.configSchema.optional();
  return z.object(shape).strict().default({});
}
