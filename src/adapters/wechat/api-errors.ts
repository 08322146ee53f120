import { HubError, errorMessage, isHubError } from '../../core/errors.js';

/** What the puppets say when a contact or room is not (or no longer) known to the account. */
const NOT_FOUND = /not exist|not found|no payload/i;

/** A contact or room the account cannot reach: never retried, the identity is marked unreachable. */
export function unreachable(message: string): HubError {
  return new HubError('RECIPIENT_UNREACHABLE', `wechat: ${message}`, { retry: 'final' });
}

/**
 * Maps a failure of a send through the puppet to the hub's retry classes: a contact the puppet does
 * not know -> RECIPIENT_UNREACHABLE, final; the platform throttling -> delay 60 s (WeChat names no
 * wait); anything else (network, a dropped session) -> retry.
 */
export function sendError(err: unknown, chatId: string): HubError {
  if (isHubError(err)) return err;
  const text = errorMessage(err);
  if (NOT_FOUND.test(text)) return unreachable(`${chatId} not found: ${text}`);
  if (/\b1205\b|frequen|too fast|rate/i.test(text)) {
    return new HubError('PLATFORM_RATE_LIMITED', `wechat: the platform throttled sending: ${text}`, { cause: err, retry: 'delay', retryAfterMs: 60_000 });
  }
  return new HubError('NETWORK', `wechat: send failed: ${text}`, { cause: err, retry: 'retry', context: { chatId } });
}

/** A failed lookup of the contact or room to send to. */
export function lookupError(err: unknown, kind: 'contact' | 'room', id: string): HubError {
  if (isHubError(err)) return err;
  const text = errorMessage(err);
  if (NOT_FOUND.test(text)) return unreachable(`${kind} ${id} not found: ${text}`);
  return new HubError('NETWORK', `wechat: looking up ${id}: ${text}`, { cause: err, retry: 'retry' });
}
