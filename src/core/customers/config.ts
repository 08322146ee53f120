/** The `identity:` section of hub.yaml (docs/configuration.md, docs/identity.md): the email-code limits. */
import { z } from 'zod';
import { DEFAULT_CODE_LIMITS, type CodeLimits } from './code-limits.js';

const emailCodeSchema = z
  .object({
    perIdentityPerHour: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(DEFAULT_CODE_LIMITS.perIdentity)
      .describe('Email codes one chat identity may ask for per hour (a sliding hour, shared by every process through Redis).'),
    perAddressPerHour: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(DEFAULT_CODE_LIMITS.perAddress)
      .describe('Email codes one address may receive per hour, whoever asks (keeps the hub from mail-bombing an address).'),
  })
  .strict();

export const identityConfigSchema = z
  .object({
    emailCode: emailCodeSchema.default(emailCodeSchema.parse({})).describe('Limits of the email one-time codes that link a chat identity with an address.'),
  })
  .strict()
  .describe('One customer across channels: linking limits.');

export type IdentityConfig = z.infer<typeof identityConfigSchema>;

/** The limiter's limits from the config section. */
export function codeLimitsOf(c: IdentityConfig | undefined): CodeLimits {
  if (!c) return DEFAULT_CODE_LIMITS;
  return { perIdentity: c.emailCode.perIdentityPerHour, perAddress: c.emailCode.perAddressPerHour, windowMs: DEFAULT_CODE_LIMITS.windowMs };
}
