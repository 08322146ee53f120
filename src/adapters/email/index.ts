import { defineAdapter } from '../define.js';
import { EmailAdapter } from './adapter.js';
import { checkEmail } from './check.js';
import { assertUsable, emailConfigSchema, type EmailConfig } from './config.js';

export { EmailAdapter } from './adapter.js';
export { emailConfigSchema, type EmailConfig, type EmailConfigInput } from './config.js';

/**
 * `channels.email` — IMAP in (imapflow: IDLE or polling, the cursor in the channel state), SMTP out
 * (nodemailer), one conversation per thread; see EmailAdapter and config.ts for the options.
 */
export const emailAdapter = defineAdapter<EmailConfig>({
  channel: 'email',
  configSchema: emailConfigSchema,
  create(config, deps) {
    assertUsable(config);
    return new EmailAdapter(config, deps.log);
  },
  check: checkEmail,
});
