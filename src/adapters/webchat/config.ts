import { z } from 'zod';

const rateLimitSchema = z
  .object({
    perSecond: z.number().positive().max(1000).default(2).describe('Messages per second a visitor may send (refill rate).'),
    burst: z.number().int().min(1).max(10_000).default(10).describe('Messages a visitor may send at once.'),
  })
  .strict();

const origin = z
  .string()
  .regex(/^(\*|https?:\/\/[^/\s]+)\/?$/, 'must be "*" or an origin like https://shop.example.com')
  .transform((s) => s.replace(/\/$/, ''));

export const webchatConfigSchema = z
  .object({
    enabled: z.boolean().default(true),
    cookieSecret: z
      .string()
      .min(16)
      .optional()
      .describe('HMAC key of the visitor cookie (use ${ENV}); default: generated once into <dataDir>/webchat-secret.'),
    identitySecret: z
      .string()
      .min(16)
      .optional()
      .describe(
        'Signed visitors (docs/identity.md): the key your site signs its user ids with, HMAC-SHA256 in hex (use ${ENV}); a valid pair links the visitor to that customer. Unset: user ids from the page are ignored.',
      ),
    title: z
      .object({ zh: z.string().min(1).max(80).optional(), en: z.string().min(1).max(80).optional() })
      .strict()
      .optional()
      .describe('Chat header title per UI language.'),
    allowedOrigins: z
      .array(origin)
      .default([])
      .describe('Other sites that may embed the widget (WebSocket Origin check); "*" allows any.'),
    rateLimit: rateLimitSchema.default(rateLimitSchema.parse({})),
    trustProxy: z
      .literal(false, {
        error:
          'moved to server.trustProxy: set that to the number of proxies in front of the hub (1 behind one reverse proxy) or their addresses; the web chat takes the client IP and scheme the hub computes',
      })
      .default(false)
      .describe('Moved: server.trustProxy decides whose X-Forwarded-For / -Proto the hub believes (true here stops start-up).'),
  })
  .strict();

export type WebchatConfig = z.infer<typeof webchatConfigSchema>;
