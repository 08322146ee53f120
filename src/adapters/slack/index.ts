import { defineDesk } from '../define.js';
import { slackConfigSchema } from './config.js';
import { SlackDesk } from './desk.js';

export { SlackDesk } from './desk.js';
export { slackConfigSchema, type SlackConfig, type SlackConfigInput } from './config.js';

/** `channels.slack`: the Slack agent desk (register in `deskFactories`). */
export const slackDesk = defineDesk({
  channel: 'slack',
  configSchema: slackConfigSchema,
  create: (config, deps) => new SlackDesk(config, deps),
});
