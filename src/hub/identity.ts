/**
 * Identity linking in the composition root (docs/identity.md): the link-token turn handler, which
 * must run before the core's `/start` welcome. The API routes are mounted with the rest of /api.
 *
 * Wiring (src/hub/hub.ts, `inboundDeps()`): `turn: composeTurn([...identityTurnHandlers(this), ...handlers]),`
 */
import { join } from 'node:path';
import { Templates } from '../core/templates.js';
import { HubError } from '../core/errors.js';
import type { TurnHandler } from '../core/conversation/turn.js';
import { LINK_TEXTS, linkTokenTurn } from '../core/customers/link-turn.js';
import { signedVisitorTurn } from '../core/customers/signed-visitor.js';
import type { Hub } from './hub.js';

/** The identity module's turn handlers (link tokens, signed web chat visitors), first in the chain. Throws at start-up when a text is missing. */
export function identityTurnHandlers(hub: Hub): TurnHandler[] {
  const file = join(hub.opts.configDir ?? 'config', 'templates', 'identity.yaml');
  const texts = Templates.load(file);
  for (const key of Object.values(LINK_TEXTS)) {
    try {
      texts.render(key, 'en');
    } catch {
      throw new HubError('CONFIG_INVALID', `${file}: ${key}: missing (the identity texts need every key of config/templates/identity.yaml)`);
    }
  }
  return [linkTokenTurn({ storage: hub.storage, texts, now: () => hub.clock.now() }), signedVisitorTurn({ storage: hub.storage })];
}
