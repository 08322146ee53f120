/**
 * The generic sections of hub.yaml (server, api, storage, redis, queues, escalation, workflows) and
 * `buildConfigSchema`, which joins them with the sections of the modules and channels. This folder
 * is a leaf: the composition root (`src/hub/config-schema.ts`) brings the module and channel parts.
 */
import proxyAddr from 'proxy-addr';
import { z } from 'zod';

const serverSchema = z
  .object({
    host: z.string().default('127.0.0.1').describe('Interface the HTTP server binds to.'),
    port: z.number().int().min(0).max(65535).default(3000).describe('HTTP port; PORT overrides.'),
    publicUrl: z.string().url().optional().describe('URL customers and platforms reach the hub at.'),
    adminToken: z
      .never({
        error:
          'removed (no route ever read it): create a token with `npx switchboard token create NAME --role admin` and paste the line it prints under api.tokens',
      })
      .optional()
      .describe('Removed: use api.tokens (npx switchboard token create NAME --role admin).'),
    trustProxy: z
      .union(
        [
          z.boolean(),
          z.number().int().min(0).max(32),
          z
            .array(z.string().min(1))
            .min(1, 'list at least one proxy address or CIDR, or write false')
            .superRefine((list, ctx) => {
              list.forEach((entry, i) => {
                const problem = proxyProblem(entry);
                if (problem) ctx.addIssue({ code: 'custom', path: [i], message: problem });
              });
            }),
        ],
        { error: 'must be false, a number of proxy hops (1 behind one reverse proxy), a list of proxy addresses / CIDRs, or true' },
      )
      .default(false)
      .describe(
        'Proxies in front of the hub whose X-Forwarded-For / -Proto are believed: false (none), a number of hops, or a list of proxy addresses / CIDRs; true believes every hop (a client can then pick its own IP).',
      ),
    bodyLimit: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1_048_576)
      .default(1_048_576)
      .describe('Largest request body in bytes (webhooks, the API); beyond it the answer is 413.'),
    apiRateLimit: z
      .object({
        max: z.number().int().min(1).max(1_000_000).default(600).describe('Requests per window and client IP.'),
        windowSeconds: z.number().int().min(1).max(86_400).default(60),
      })
      .strict()
      .default({ max: 600, windowSeconds: 60 })
      .describe('Limit of /api/* per client IP, shared by every gateway (kept in Redis).'),
  })
  .strict();

/** Why a `server.trustProxy` entry is not an IP address, a CIDR or one of proxy-addr's names. */
function proxyProblem(entry: string): string | undefined {
  try {
    proxyAddr.compile(entry);
    return undefined;
  } catch (err) {
    return `"${entry}" is not an IP address, a CIDR (10.0.0.0/8) or loopback / linklocal / uniquelocal: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** Roles of an API token: `admin` may do everything, `agent` reads customers and conversations, `events` sends messages. */
export const API_ROLES = ['admin', 'agent', 'events'] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** An API token's name: what logs show instead of the token. */
export const API_TOKEN_NAME = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Why a `sha256` value is not a lowercase hex SHA-256 (the value itself is never repeated: it may be a token). */
function sha256Problem(value: unknown): string {
  if (typeof value !== 'string') return 'must be the SHA-256 of the token, 64 lowercase hex characters';
  if (/^[0-9a-fA-F]{64}$/.test(value)) return 'must be lowercase hex: write the same 64 characters in lowercase';
  if (/^[0-9a-fA-F]+$/.test(value)) return `must be 64 lowercase hex characters (the whole SHA-256 digest), got ${value.length}`;
  return 'must be the SHA-256 of the token (64 lowercase hex characters), not the token itself: never put a token in hub.yaml; `npx switchboard token create` prints the line to paste (for an existing token: printf %s "$TOKEN" | sha256sum)';
}

const apiTokenSchema = z
  .object({
    name: z
      .string()
      .regex(API_TOKEN_NAME, 'must start with a letter and hold only letters, digits, _ . - (at most 64)')
      .describe('Shown in logs instead of the token.'),
    roles: z
      .array(z.enum(API_ROLES))
      .min(1, 'give the token at least one role: admin, agent or events')
      .describe('admin (everything), agent (reads customers and conversations), events (sends messages).'),
    sha256: z
      .string()
      .regex(SHA256_HEX, { error: (issue) => sha256Problem(issue.input) })
      .describe('Lowercase hex SHA-256 of the token (never the token itself).'),
  })
  .strict();

const apiSchema = z
  .object({
    tokens: z
      .array(apiTokenSchema)
      .superRefine((tokens, ctx) => {
        tokens.forEach((t, i) => {
          const j = tokens.findIndex((o) => o.name === t.name);
          if (j < i) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `"${t.name}" is also the name of api.tokens[${j}]: names must be unique` });
          const k = tokens.findIndex((o) => o.sha256 === t.sha256);
          if (k < i) ctx.addIssue({ code: 'custom', path: [i, 'sha256'], message: `the same token as api.tokens[${k}] (${tokens[k]?.name}): give each client its own token` });
        });
      })
      .default([])
      .describe('Bearer tokens of the API and /metrics; `npx switchboard token create` makes one.'),
  })
  .strict()
  .describe('The hub\'s API: who may call it.');

export type ApiTokenConfig = z.infer<typeof apiTokenSchema>;

const storageSchema = z
  .object({
    url: z
      .string()
      .regex(/^(sqlite:|postgres(ql)?:\/\/)/, 'must start with sqlite: or postgres://')
      .default('sqlite:./data/switchboard.db')
      .describe('sqlite:<file> or postgres://…; DATABASE_URL overrides.'),
    preparedStatements: z
      .boolean()
      .default(true)
      .describe(
        'PostgreSQL: run queries as named prepared statements, parsed and planned once per connection. Set false behind a pooler that shares server connections between clients without keeping them (PgBouncer in transaction mode before 1.21).',
      ),
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
    outboundConcurrency: z.number().int().min(1).max(1000).default(32).describe('Sends per channel a worker process makes at once, direct sends and send jobs together.'),
    directSends: z.boolean().default(true).describe('A worker process sends the replies it decided itself, right after the commit; the send queue takes the rest.'),
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
  .strictObject({
    dir: z.string().default('config/workflows').describe('Folder of workflow files (docs/workflows.md); no folder: no workflows.'),
    reloadDebounceMs: z.number().int().min(0).default(300).describe('Quiet time after a change in the workflows folder (or the message templates) before it is loaded again.'),
    sendsPerSecond: z
      .record(z.string().regex(/^[a-z][a-z0-9_-]*$/, 'a channel name'), z.number().positive())
      .default({})
      .describe('Most workflow sends and asks per second per channel, across all workers (e.g. telegram: 25); a send over it waits in Redis for the next second. Unlisted channels: no limit.'),
  })
  .describe('Workflows: proactive reminders and alerts (docs/workflows.md).');

/** Sections before the modules' ones. */
const headSections = {
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  dataDir: z.string().default('./data'),
  server: serverSchema.default(serverSchema.parse({})),
  api: apiSchema.default(apiSchema.parse({})),
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
