import { defineAdapter, defineDesk } from '../define.js';
import { slackConfigSchema, type SlackConfig } from './config.js';
import { SlackCustomers } from './customer.js';
import { SlackDesk } from './desk.js';

export { SlackDesk } from './desk.js';
export { SlackCustomers } from './customer.js';
export { slackConfigSchema, type SlackConfig, type SlackConfigInput } from './config.js';

/** `channels.slack`: the Slack agent desk (register in `deskFactories`). */
export const slackDesk = defineDesk({
  channel: 'slack',
  configSchema: slackConfigSchema,
  create: (config, deps) => new SlackDesk(config, deps),
});

/**
 * `channels.slack.customers`: Slack as a customer channel (register in `adapterFactories`). Built
 * from the same section as the desk, whose transport it shares; not built without a `customers` part.
 */
export const slackCustomers = defineAdapter<SlackConfig>({
  channel: 'slack',
  configSchema: slackConfigSchema,
  create: (config, deps) => new SlackCustomers(config, deps),
  wanted: (config) => config.customers !== undefined,
});
