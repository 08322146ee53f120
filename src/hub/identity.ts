/**
 * Identity linking in the composition root (docs/identity.md): the link-token turn handler, which
 * must run before the core's `/start` welcome, and the signed web chat visitor's. The API routes are
 * mounted with the rest of /api. Texts: `<config>/templates/identity.yaml`, else the shipped file.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import type { Clock } from '../core/clock.js';
import type { ChangeDeps } from '../core/conversation/change.js';
import type { Storage } from '../core/storage/storage.js';
import { Templates } from '../core/templates.js';
import { HubError } from '../core/errors.js';
import type { TurnHandler } from '../core/conversation/turn.js';
import { LINK_TEXTS, linkTokenTurn } from '../core/customers/link-turn.js';
import { signedVisitorTurn } from '../core/customers/signed-visitor.js';
import { EMAIL_TEXTS, emailCodeTurn } from '../core/customers/email-code-turn.js';
import { redisCodeLimiter } from '../core/customers/code-limits.js';
import { codeLimitsOf, type IdentityConfig } from '../core/customers/config.js';
import { CONSENT_TEXTS, consentTurn } from '../core/customers/consent.js';
import { preferredChannelTurn } from '../core/customers/preferred-channel.js';

/** What the handlers take of the hub (the Hub itself, without importing it: no cycle). */
export interface IdentityHost {
  readonly opts: { readonly configDir?: string | undefined };
  readonly storage: Storage;
  readonly clock: Clock;
  readonly redis: Redis;
  readonly config: { readonly redis: { readonly prefix: string }; readonly identity?: IdentityConfig };
  /** The channels this hub has (the email code needs `email`). */
  readonly adapters: ReadonlyMap<string, unknown>;
  changeDeps(): ChangeDeps;
}

/** The texts shipped with the hub, for a config folder without its own identity.yaml. */
const SHIPPED = fileURLToPath(new URL('../../config/templates/identity.yaml', import.meta.url));

/** The identity module's turn handlers (consent, preferred channel, link tokens, signed web chat visitors, email codes), first in the chain. Throws at start-up when a text is missing. */
export function identityTurnHandlers(hub: IdentityHost): TurnHandler[] {
  const own = join(hub.opts.configDir ?? 'config', 'templates', 'identity.yaml');
  const file = existsSync(own) ? own : SHIPPED;
  const texts = Templates.load(file);
  for (const key of [...Object.values(LINK_TEXTS), ...Object.values(EMAIL_TEXTS), ...Object.values(CONSENT_TEXTS)]) {
    try {
      texts.render(key, 'en');
    } catch {
      throw new HubError('CONFIG_INVALID', `${file}: ${key}: missing (the identity texts need every key of config/templates/identity.yaml)`);
    }
  }
  const now = () => hub.clock.now();
  const email = emailCodeTurn({
    storage: hub.storage,
    change: hub.changeDeps(),
    limiter: redisCodeLimiter(hub.redis, hub.config.redis.prefix, codeLimitsOf(hub.config.identity)),
    texts,
    now,
    available: (channel) => hub.adapters.has(channel),
  });
  // Consent first: it wraps every other handler (their messages are redacted too).
  // The preferred channel next: it acts after the rest of the chain (a link in this turn is done by then).
  return [
    consentTurn({ storage: hub.storage, texts, now }),
    preferredChannelTurn({ storage: hub.storage }),
    linkTokenTurn({ storage: hub.storage, texts, now }),
    signedVisitorTurn({ storage: hub.storage }),
    email,
  ];
}
