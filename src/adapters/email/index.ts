import { defineAdapter } from '../define.js';
import { assertUsable, emailConfigSchema, type EmailConfig } from './config.js';

export type { EmailAdapter } from './adapter.js';
export { emailConfigSchema, type EmailConfig, type EmailConfigInput } from './config.js';

/**
 * `channels.email` — IMAP in (imapflow: IDLE or polling, the cursor in the channel state), SMTP out
 * (nodemailer), one conversation per thread; see EmailAdapter and config.ts for the options. The
 * IMAP and SMTP libraries load when the channel is enabled.
 */
export const emailAdapter = defineAdapter<EmailConfig>({
  channel: 'email',
  configSchema: emailConfigSchema,
  async create(config, deps) {
    assertUsable(config);
    const { EmailAdapter } = await import('./adapter.js');
    return new EmailAdapter(config, deps.log);
  },
  check: async (config) => (await import('./check.js')).checkEmail(config),
});
