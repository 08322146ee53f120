import { TelegramError } from 'telegraf';
import { HubError, errorMessage } from '../../core/errors.js';

/** Removes the bot token (and anything shaped like one) from text bound for logs and errors. */
export function scrubToken(text: string, token: string): string {
  let out = token ? text.split(token).join('<token>') : text;
  out = out.replace(/(?<!\d)\d{5,}:[A-Za-z0-9_-]{20,}/g, '<token>');
  return out;
}

const UNREACHABLE_400 =
  /chat not found|user not found|peer_id_invalid|user is deactivated|bot was blocked|bot was kicked|not enough rights|have no rights|bot is not a member|chat was upgraded/i;

/**
 * Maps a Bot API failure to the hub's retry classes:
 * 429 -> delay (`retry_after`); 403 and 400 "chat not found"-like -> RECIPIENT_UNREACHABLE, final;
 * 401/404 -> AUTH_FAILED, final; other 4xx -> PLATFORM_REFUSED, final; 5xx and network -> retry.
 */
export function toHubError(err: unknown, token: string, method: string): HubError {
  if (err instanceof HubError) return err;
  if (err instanceof TelegramError) {
    const code = err.code;
    const description = scrubToken(err.description ?? '', token);
    const context = { method, errorCode: code, description };
    const msg = `Telegram ${method}: ${code} ${description}`;
    if (code === 429) {
      const seconds = err.parameters?.retry_after ?? 1;
      return new HubError('PLATFORM_RATE_LIMITED', msg, { context, retry: 'delay', retryAfterMs: Math.max(1, seconds) * 1000 });
    }
    if (code === 403 || (code === 400 && UNREACHABLE_400.test(description))) {
      return new HubError('RECIPIENT_UNREACHABLE', msg, { context, retry: 'final' });
    }
    if (code === 401 || code === 404) {
      return new HubError('AUTH_FAILED', `${msg} (check channels.telegram.token and apiRoot)`, { context, retry: 'final' });
    }
    if (code >= 500) return new HubError('NETWORK', msg, { context, retry: 'retry' });
    const hint = /file is too big/i.test(description)
      ? ' (the cloud Bot API serves files up to 20 MB; a self-hosted Bot API server, channels.telegram.apiRoot, lifts this)'
      : '';
    return new HubError('PLATFORM_REFUSED', msg + hint, { context, retry: 'final' });
  }
  return new HubError('NETWORK', `Telegram ${method}: ${scrubToken(errorMessage(err), token)}`, {
    context: { method },
    retry: 'retry',
  });
}

/** true for the error of an aborted request (our own stop). */
export function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}
