/** Stable error codes: logs, metrics and tests match on these, never on message text. */
export type HubErrorCode =
  | 'CONFIG_INVALID'
  | 'CONFIG_MISSING_ENV'
  | 'INPUT_INVALID'
  | 'UNKNOWN_CHANNEL'
  | 'STORAGE'
  | 'VERSION_CONFLICT'
  /** Not a failure: the job waits on another one (reply order, a case another worker is posting). */
  | 'WAITING'
  | 'PLATFORM_REFUSED'
  | 'PLATFORM_RATE_LIMITED'
  | 'NETWORK'
  | 'RECIPIENT_UNREACHABLE'
  | 'AUTH_FAILED'
  | 'NOT_FOUND'
  /** The request contradicts what is stored (an id already given to someone else, a reused idempotency key). */
  | 'CONFLICT'
  | 'LLM_FAILED'
  | 'ACTION_FAILED'
  | 'INTERNAL';

/**
 * What the queue should do with a failed effect:
 * - `retry`: transient (network, 5xx) — retry with backoff;
 * - `delay`: wait `retryAfterMs` (the platform asked us to, or the job waits on another one);
 * - `final`: never retry (blocked user, invalid address, revoked token).
 */
export type Retryability = 'retry' | 'delay' | 'final';

export interface HubErrorOptions {
  cause?: unknown;
  context?: Record<string, unknown>;
  retry?: Retryability;
  retryAfterMs?: number;
}

export class HubError extends Error {
  readonly code: HubErrorCode;
  readonly context: Record<string, unknown>;
  readonly retry: Retryability;
  readonly retryAfterMs?: number;

  constructor(code: HubErrorCode, message: string, options: HubErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HubError';
    this.code = code;
    this.context = options.context ?? {};
    this.retry = options.retry ?? 'final';
    if (options.retryAfterMs !== undefined) this.retryAfterMs = options.retryAfterMs;
  }
}

export function isHubError(err: unknown, code?: HubErrorCode): err is HubError {
  return err instanceof HubError && (code === undefined || err.code === code);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
