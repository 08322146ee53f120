import { z } from 'zod';
import { HubError } from '../../core/errors.js';

/*
 * Empty strings are let through the schema on purpose: the config loader substitutes `${ENV}`
 * references with '' when a variable is unset and then reports the missing variable by name, which
 * it can only do when the schema parse succeeds. `assertUsable` (called by `create`) refuses an empty
 * token or secret of an enabled channel with a message naming the field.
 */

const webhookSchema = z
  .object({
    path: z.string().startsWith('/', 'must start with /').default('/webhooks/telegram').describe('Route on the hub HTTP server.'),
    secretToken: z
      .string()
      .regex(/^[A-Za-z0-9_-]{0,256}$/, 'must be 1-256 characters of A-Z, a-z, 0-9, _ and - (Telegram rule)')
      .optional()
      .describe('Compared with X-Telegram-Bot-Api-Secret-Token on every webhook call (use ${ENV}).'),
    url: z.string().url().optional().describe('Public URL registered with setWebhook by the gateway holding the lease.'),
  })
  .strict();

export const telegramConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    token: z.string().default('').describe('Bot token from @BotFather (use ${TELEGRAM_BOT_TOKEN}).'),
    mode: z.enum(['polling', 'webhook']).default('polling').describe('Long polling (default) or webhook.'),
    apiRoot: z.string().url().default('https://api.telegram.org').describe('Bot API server (self-hosted or a test fake).'),
    webhook: webhookSchema.default(webhookSchema.parse({})),
    allowedGroups: z
      .array(z.union([z.number().int(), z.string().regex(/^-?\d+$/, 'must be a numeric chat id')]))
      .default([])
      .describe('Group chat ids where the bot answers when mentioned.'),
    botUsername: z.string().min(1).optional().describe('Without @; default: asked with getMe.'),
    pollingTimeoutSec: z.number().int().min(0).max(50).default(30).describe('getUpdates long-poll timeout.'),
  })
  .strict()
  .refine((c) => !c.enabled || c.mode !== 'webhook' || c.webhook.secretToken !== undefined, {
    message: 'is required when mode is webhook (e.g. secretToken: ${TELEGRAM_WEBHOOK_SECRET})',
    path: ['webhook', 'secretToken'],
  });

export type TelegramConfig = z.infer<typeof telegramConfigSchema>;
export type TelegramConfigInput = z.input<typeof telegramConfigSchema>;

/** Refuses an enabled channel that cannot work, naming the field to fix. */
export function assertUsable(c: TelegramConfig): void {
  if (!c.enabled) return;
  if (c.token.trim() === '') {
    throw new HubError('CONFIG_INVALID', 'channels.telegram.token is empty: set it (e.g. token: ${TELEGRAM_BOT_TOKEN}) or disable the channel', {
      context: { field: 'channels.telegram.token' },
    });
  }
  if (c.mode === 'webhook' && !c.webhook.secretToken) {
    throw new HubError(
      'CONFIG_INVALID',
      'channels.telegram.webhook.secretToken is empty: webhook mode needs it (e.g. secretToken: ${TELEGRAM_WEBHOOK_SECRET})',
      { context: { field: 'channels.telegram.webhook.secretToken' } },
    );
  }
}
