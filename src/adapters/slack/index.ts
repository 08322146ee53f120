import { defineAdapter, defineDesk } from '../define.js';
import { slackConfigSchema, type SlackConfig } from './config.js';

export type { SlackDesk } from './desk.js';
export type { SlackCustomers } from './customer.js';
export { slackConfigSchema, type SlackConfig, type SlackConfigInput } from './config.js';

/** `channels.slack`: the Slack agent desk (register in `deskFactories`). bolt loads when enabled. */
export const slackDesk = defineDesk({
  channel: 'slack',
  configSchema: slackConfigSchema,
  create: async (config, deps) => new (await import('./desk.js')).SlackDesk(config, deps),
});

/**
 * `channels.slack.customers`: Slack as a customer channel (register in `adapterFactories`). Built
 * from the same section as the desk, whose transport it shares; not built without a `customers` part.
 */
export const slackCustomers = defineAdapter<SlackConfig>({
  channel: 'slack',
  configSchema: slackConfigSchema,
  create: async (config, deps) => new (await import('./customer.js')).SlackCustomers(config, deps),
  wanted: (config) => config.customers !== undefined,
});
