import { errorMessage } from '../core/errors.js';
import type { WebhookEndpoint } from './config.js';
import { signatureHeader } from './payload.js';

/** What one POST came to. */
export type PostResult =
  | { kind: 'delivered'; statusCode: number }
  /** Network error, timeout, 5xx or 429: try again (after `retryAfterMs` when the endpoint said so). */
  | { kind: 'retry'; statusCode: number | null; error: string; retryAfterMs?: number }
  /** Any other answer (a 4xx but 429, a redirect): trying again would get the same. */
  | { kind: 'final'; statusCode: number; error: string };

/** How much of a refusal's body the delivery log keeps. */
const ERROR_BODY_CHARS = 300;

/** POSTs one delivery's body to its endpoint, signed now, and classifies the answer. */
export async function postDelivery(endpoint: WebhookEndpoint, eventId: string, body: string, nowMs: number): Promise<PostResult> {
  let res: Response;
  try {
    res = await fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Switchboard-Webhooks/1',
        'switchboard-event-id': eventId,
        'switchboard-signature': signatureHeader(endpoint.secret, body, nowMs / 1000),
      },
      body,
      // A redirect is answered as a failure naming the target: the URL in hub.yaml should be the final one.
      redirect: 'manual',
      signal: AbortSignal.timeout(endpoint.timeoutMs),
    });
  } catch (err) {
    return { kind: 'retry', statusCode: null, error: networkError(err, endpoint.timeoutMs) };
  }
  const code = res.status;
  if (code >= 200 && code < 300) {
    await res.body?.cancel().catch(() => undefined);
    return { kind: 'delivered', statusCode: code };
  }
  const text = await bodyStart(res);
  const error = `HTTP ${code}${text ? `: ${text}` : ''}`;
  if (code === 429 || code >= 500) {
    const wait = code === 429 || code === 503 ? retryAfterMs(res.headers.get('retry-after'), Date.now()) : undefined;
    return { kind: 'retry', statusCode: code, error, ...(wait !== undefined ? { retryAfterMs: wait } : {}) };
  }
  if (code >= 300 && code < 400) {
    const to = res.headers.get('location');
    return { kind: 'final', statusCode: code, error: `HTTP ${code}: redirected${to ? ` to ${to.slice(0, 200)}` : ''}; put the final URL in hub.yaml` };
  }
  return { kind: 'final', statusCode: code, error };
}

/**
 * `Retry-After` in milliseconds from `nowMs`: delay-seconds or an HTTP date (RFC 9110 10.2.3);
 * undefined when absent or unreadable. A date in the past means now.
 */
export function retryAfterMs(value: string | null, nowMs: number): number | undefined {
  const v = value?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/[a-z]/i.test(v)) return undefined; // "1.5", "-3": neither form
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

function networkError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${timeoutMs} ms`;
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause === 'object') {
    const code = typeof cause.code === 'string' ? cause.code : '';
    const msg = typeof cause.message === 'string' ? cause.message : '';
    if (code || msg) return `network error: ${[code, msg].filter(Boolean).join(' ')}`.slice(0, ERROR_BODY_CHARS);
  }
  return `network error: ${errorMessage(err)}`.slice(0, ERROR_BODY_CHARS);
}

/** The first characters of a refusal's body, on one line (the rest is not read). */
async function bodyStart(res: Response): Promise<string> {
  const reader = res.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < ERROR_BODY_CHARS * 4) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A body that breaks off: keep what came.
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, ERROR_BODY_CHARS);
}
