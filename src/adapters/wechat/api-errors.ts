import { AssertionError } from 'node:assert';
import { HubError, errorMessage, isHubError } from '../../core/errors.js';

/** WeChat says it throttles but not for how long: a throttled send waits this long. */
export const RATE_LIMIT_WAIT_MS = 60_000;

/** What the puppets say when a contact or room is not (or no longer) known to the account. */
const NOT_FOUND = /not exist|not found|no payload/i;
/** What puppets say when WeChat throttles the account ("rate" alone also matched "generate"). */
const THROTTLED = /\b1205\b|frequen|too fast|rate.?limit|频繁/i;

/**
 * webwx `BaseResponse.Ret` codes seen on sends (WeChat documents none: these are what the web
 * protocol libraries report). 1205: sending too often.
 */
const RET_RATE_LIMITED = 1205;

/** A contact or room the account cannot reach: never retried, the identity is marked unreachable. */
export function unreachable(message: string): HubError {
  return new HubError('RECIPIENT_UNREACHABLE', `wechat: ${message}`, { retry: 'final' });
}

/**
 * The webwx `BaseResponse.Ret` of a failed call through wechaty-puppet-wechat4u: wechat4u checks
 * `assert.equal(data.BaseResponse.Ret, 0, res)`, so the error is an AssertionError whose message is
 * the stringified response ("[object Object]") and whose `actual` is the code.
 */
export function webwxRet(err: unknown): number | undefined {
  return err instanceof AssertionError && typeof err.actual === 'number' && err.actual !== 0 ? err.actual : undefined;
}

/**
 * Maps a failure of a send through the puppet to the hub's retry classes: a contact the puppet does
 * not know -> RECIPIENT_UNREACHABLE, final; the platform throttling (webwx Ret 1205, or a puppet
 * saying so) -> delay RATE_LIMIT_WAIT_MS; anything else (network, a dropped session) -> retry.
 */
export function sendError(err: unknown, chatId: string): HubError {
  if (isHubError(err)) return err;
  const ret = webwxRet(err);
  const text = ret === undefined ? errorMessage(err) : `webwx Ret ${ret}`;
  const context = { chatId, ...(ret === undefined ? {} : { ret }) };
  if (ret === undefined && NOT_FOUND.test(text)) return unreachable(`${chatId} not found: ${text}`);
  if (ret === RET_RATE_LIMITED || (ret === undefined && THROTTLED.test(text))) {
    return new HubError('PLATFORM_RATE_LIMITED', `wechat: the platform throttled sending: ${text}`, {
      cause: err,
      retry: 'delay',
      retryAfterMs: RATE_LIMIT_WAIT_MS,
      context,
    });
  }
  return new HubError('NETWORK', `wechat: send failed: ${text}`, { cause: err, retry: 'retry', context });
}

/** A failed lookup of the contact or room to send to. */
export function lookupError(err: unknown, kind: 'contact' | 'room', id: string): HubError {
  if (isHubError(err)) return err;
  const text = errorMessage(err);
  if (NOT_FOUND.test(text)) return unreachable(`${kind} ${id} not found: ${text}`);
  return new HubError('NETWORK', `wechat: looking up ${id}: ${text}`, { cause: err, retry: 'retry' });
}
