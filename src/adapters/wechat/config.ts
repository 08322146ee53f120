import { z } from 'zod';
import type { PacingClock } from './pacing.js';
import type { ModuleImporter, WechatyPuppet } from './puppet.js';

export const CHANNEL = 'wechat';

const pacingSchema = z
  .object({
    minIntervalMs: z.number().int().min(0).default(3000).describe('Least time between two sends to one contact or room.'),
    jitterMs: z.number().int().min(0).default(2000).describe('Random extra 0..jitterMs on each per-contact interval.'),
    globalPerMinute: z.number().positive().default(20).describe('Sends per minute over the whole account, evenly spaced.'),
    maxWaitMs: z
      .number()
      .int()
      .min(0)
      .default(20_000)
      .describe('Longest a reply waits in memory for its slot; later slots go back to the queue as delayed jobs.'),
  })
  .strict();

export const wechatConfigSchema = z
  .object({
    enabled: z.boolean().default(false),
    puppet: z
      .string()
      .min(1)
      .default('wechaty-puppet-wechat4u')
      .describe('Puppet package: wechaty-puppet-wechat4u (default, web protocol), wechaty-puppet-service (with a token)...'),
    puppetToken: z.string().optional().describe('Token of puppets that need one (use ${ENV}).'),
    name: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
      .default('switchboard')
      .describe('Session name: the login is kept in <dataDir>/wechat/<name>.memory-card.json.'),
    allowedRooms: z.array(z.string().min(1)).default([]).describe('Room ids or topics where the bot answers when @-mentioned.'),
    acceptFriendRequests: z.boolean().default(false),
    pacing: pacingSchema.prefault({}),
    maxTextLength: z.number().int().min(100).max(10_000).default(1500).describe('Longer replies are split at this length.'),
    adminToken: z.string().min(16).optional().describe('Bearer token for GET /api/channels/wechat/login (use ${ENV}).'),
  })
  .strict();

export type WechatConfig = z.infer<typeof wechatConfigSchema>;

/** Test and embedding hooks; not part of hub.yaml. */
export interface WechatAdapterOptions {
  /** Use this puppet instead of loading `config.puppet` (tests: a wechaty-puppet-mock PuppetMock). */
  puppetInstance?: WechatyPuppet;
  /** How puppet packages are imported (tests: simulate a missing package). */
  importer?: ModuleImporter;
  clock?: PacingClock;
  random?: () => number;
  /** Print the QR code in the terminal (default true). */
  printQr?: boolean;
  /** Where terminal output goes (default stdout). */
  write?: (s: string) => void;
  /** First delay before restarting after a logout or a dropped session (default 2 s, doubling, max 5 min). */
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  /** Tries of ctx.accept before an inbound message is logged as lost (default 6: ~15 s in all). */
  acceptAttempts?: number;
  acceptRetryBaseMs?: number;
  /** How long a send waits for the login before failing with a retryable error (default 10 s). */
  loginWaitMs?: number;
  /** How long the login route waits for the process holding the connection (default 1.5 s). */
  remoteStatusTimeoutMs?: number;
}
