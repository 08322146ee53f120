/**
 * The generic sections of hub.yaml (server, storage, redis, queues, escalation, workflows) and
 * `buildConfigSchema`, which joins them with the sections of the modules and channels. This folder
 * is a leaf: the composition root (`src/hub/config-schema.ts`) brings the module and channel parts.
 */
import { z } from 'zod';

const serverSchema = z
  .object({
    host: z.string().default('127.0.0.1').describe('Interface the HTTP server binds to.'),
    port: z.number().int().min(0).max(65535).default(3000).describe('HTTP port; PORT overrides.'),
    publicUrl: z.string().url().optional().describe('URL customers and platforms reach the hub at.'),
    adminToken: z.string().min(16).optional().describe('Bearer token for /api/admin routes (use ${ENV}).'),
    trustProxy: z.boolean().default(false).describe('Take the client IP from X-Forwarded-For.'),
  })
  .strict();

const storageSchema = z
  .object({
    url: z
      .string()
      .regex(/^(sqlite:|postgres(ql)?:\/\/)/, 'must start with sqlite: or postgres://')
      .default('sqlite:./data/switchboard.db')
      .describe('sqlite:<file> or postgres://…; DATABASE_URL overrides.'),
  })
  .strict();

const redisSchema = z
  .object({
    url: z.string().regex(/^rediss?:\/\//, 'must start with redis:// or rediss://').default('redis://127.0.0.1:6379'),
    prefix: z.string().regex(/^[A-Za-z0-9_-]+$/).default('sb').describe('Key prefix of every queue and lease.'),
  })
  .strict();

const queuesSchema = z
  .object({
    partitions: z.number().int().min(1).max(1024).default(16).describe('Inbound partitions; order holds per sender.'),
    outboundConcurrency: z.number().int().min(1).max(1000).default(32),
    attempts: z.number().int().min(1).max(100).default(12).describe('Tries of a job before it is failed.'),
    backoffMs: z.number().int().min(10).default(1000).describe('First retry delay (exponential).'),
    lockMs: z
      .number()
      .int()
      .min(500)
      .default(30_000)
      .describe('Job lock: a killed worker\'s job is retried elsewhere after about this long.'),
    leaseMs: z
      .number()
      .int()
      .min(1000)
      .max(600_000)
      .default(15_000)
      .describe(
        'Lease of a long connection (Telegram polling, Slack Socket Mode, a WeChat login): another gateway takes over within about this long after the holder dies. Shorter = faster fail-over, but a Redis hiccup or a pause of the holder longer than a third of it can make the holder drop a healthy connection.',
      ),
  })
  .strict();

const escalationSchema = z
  .looseObject({
    reopenWindowMinutes: z
      .number()
      .min(0)
      .default(30)
      .describe('A customer message this soon after resolution reopens the case instead of starting with the bot.'),
  })
  .describe('Escalation policy and agent desk.');

const workflowsSchema = z
  .looseObject({
    dir: z.string().default('config/workflows'),
  });

/** Sections before the modules' ones. */
const headSections = {
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  dataDir: z.string().default('./data'),
  server: serverSchema.default(serverSchema.parse({})),
  storage: storageSchema.default(storageSchema.parse({})),
  redis: redisSchema.default(redisSchema.parse({})),
  queues: queuesSchema.default(queuesSchema.parse({})),
};

/** Sections after the modules' ones. */
const tailSections = {
  escalation: escalationSchema.default(escalationSchema.parse({})),
  workflows: workflowsSchema.default(workflowsSchema.parse({})),
};

export interface ConfigParts<M extends z.ZodRawShape, C extends z.ZodType> {
  /** One section per module (`bot`, `llm`, …), placed between `queues` and `escalation`. */
  modules: M;
  /** The `channels:` section (one block per registered channel). */
  channels: C;
}

/**
 * The whole hub.yaml schema: generic sections, then the modules' sections, then `channels`.
 * Strict at the top level, so a misspelt section is refused by name. Field order is the order of
 * the generated JSON Schema (`switchboard config schema`).
 */
export function buildConfigSchema<M extends z.ZodRawShape, C extends z.ZodType>(parts: ConfigParts<M, C>) {
  for (const name of Object.keys(parts.modules)) {
    if (name in headSections || name in tailSections || name === 'channels') {
      throw new Error(`config section ${name} is defined twice (a module cannot replace a generic section)`);
    }
  }
  return z.object({ ...headSections, ...parts.modules, ...tailSections, channels: parts.channels }).strict();
}
