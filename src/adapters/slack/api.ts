import { WebClient, WebAPIHTTPError, WebAPIPlatformError, WebAPIRateLimitedError, WebAPIRequestError, LogLevel } from '@slack/web-api';
import type { Logger as SlackLogger } from '@slack/web-api';
import type { Logger } from 'pino';
import { HubError, errorMessage } from '../../core/errors.js';

/** Slack's logger interface on top of pino (Bolt and the Web API client log through it). */
export function slackLogger(log: Logger): SlackLogger {
  let level = LogLevel.INFO;
  const text = (msg: unknown[]) => msg.map((m) => (m instanceof Error ? m.message : typeof m === 'string' ? m : JSON.stringify(m))).join(' ');
  return {
    debug: (...m: unknown[]) => log.debug(text(m)),
    info: (...m: unknown[]) => log.debug(text(m)),
    warn: (...m: unknown[]) => log.warn(text(m)),
    error: (...m: unknown[]) => log.error(text(m)),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => undefined,
  };
}

const AUTH_ERRORS = new Set(['invalid_auth', 'not_authed', 'token_expired', 'token_revoked', 'account_inactive', 'no_permission', 'missing_scope']);
const CHANNEL_ERRORS = new Set(['channel_not_found', 'not_in_channel', 'is_archived', 'restricted_action']);
const GONE_ERRORS = new Set(['message_not_found', 'thread_not_found', 'cant_update_message', 'edit_window_closed']);
const TRANSIENT_ERRORS = new Set(['internal_error', 'fatal_error', 'service_unavailable', 'request_timeout', 'ratelimited']);

/** The Slack error code behind a HubError made by `toHubError` (`channel_not_found`...). */
export function slackCode(err: unknown): string | undefined {
  return err instanceof HubError && typeof err.context.slack === 'string' ? err.context.slack : undefined;
}

/**
 * Maps Web API failures to the hub's retry policy: 429 -> `delay` by Retry-After (the desk queue
 * waits, no attempt spent); auth and channel-membership problems -> retried with backoff (a fixed
 * token or re-invited bot recovers the case) with a log line saying what to fix; a vanished message
 * -> NOT_FOUND (callers re-post); other refusals are final.
 */
export function toHubError(method: string, err: unknown, log: Logger, channel?: string): HubError {
  if (err instanceof HubError) return err;
  if (err instanceof WebAPIRateLimitedError) {
    return new HubError('PLATFORM_RATE_LIMITED', `Slack ${method}: rate limited, retry after ${err.retryAfter}s`, {
      retry: 'delay',
      retryAfterMs: Math.max(1, err.retryAfter) * 1000,
      context: { slack: 'rate_limited' },
    });
  }
  if (err instanceof WebAPIPlatformError) {
    const code = err.data.error;
    const context = { slack: code, method, ...(channel ? { slackChannel: channel } : {}) };
    if (AUTH_ERRORS.has(code)) {
      log.error(
        { slack: code, method },
        `Slack rejected the bot token (${code}): renew channels.slack.botToken / the app's scopes. Cases stay stored and are posted when Slack accepts the token again.`,
      );
      return new HubError('AUTH_FAILED', `Slack ${method}: ${code}`, { retry: 'retry', context });
    }
    if (CHANNEL_ERRORS.has(code)) {
      log.error(
        { slack: code, method, slackChannel: channel },
        `Slack ${method} cannot use channel ${channel ?? '?'} (${code}): invite the bot to the channel (/invite @bot) or fix channels.slack.caseChannel. The case stays stored and is posted on retry.`,
      );
      return new HubError('PLATFORM_REFUSED', `Slack ${method}: ${code}`, { retry: 'retry', context });
    }
    if (GONE_ERRORS.has(code)) return new HubError('NOT_FOUND', `Slack ${method}: ${code}`, { retry: 'final', context });
    if (TRANSIENT_ERRORS.has(code)) return new HubError('NETWORK', `Slack ${method}: ${code}`, { retry: 'retry', context });
    return new HubError('PLATFORM_REFUSED', `Slack ${method}: ${code}`, { retry: 'final', context });
  }
  if (err instanceof WebAPIHTTPError) {
    const transient = err.statusCode >= 500 || err.statusCode === 408;
    return new HubError(transient ? 'NETWORK' : 'PLATFORM_REFUSED', `Slack ${method}: HTTP ${err.statusCode}`, {
      retry: transient ? 'retry' : 'final',
      context: { slack: `http_${err.statusCode}` },
    });
  }
  if (err instanceof WebAPIRequestError) {
    return new HubError('NETWORK', `Slack ${method}: ${err.original.message}`, { retry: 'retry', cause: err });
  }
  return new HubError('NETWORK', `Slack ${method}: ${errorMessage(err)}`, { retry: 'retry', cause: err });
}

export interface PostArgs {
  channel: string;
  text: string;
  blocks?: object[];
  threadTs?: string;
  broadcast?: boolean;
}

/**
 * The desk's Slack Web API calls. No client-side retries or waiting: every failure surfaces to the
 * durable desk queue, which retries (or, on 429, waits for Retry-After) — so a rate limit never
 * blocks a worker and a crash never loses a post.
 */
export class SlackApi {
  readonly client: WebClient;
  private readonly names = new Map<string, string>();

  constructor(
    token: string,
    apiUrl: string,
    private readonly log: Logger,
  ) {
    this.client = new WebClient(token, {
      slackApiUrl: apiUrl,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: 10_000,
      logger: slackLogger(log),
    });
  }

  async call(method: string, args: Record<string, unknown>, channel?: string): Promise<Record<string, unknown>> {
    try {
      const r = await this.client.apiCall(method, args);
      return { ...r };
    } catch (err) {
      throw toHubError(method, err, this.log, channel);
    }
  }

  /** Posts a message; returns its ts. */
  async post(a: PostArgs): Promise<string> {
    const r = await this.call(
      'chat.postMessage',
      {
        channel: a.channel,
        text: a.text,
        ...(a.blocks ? { blocks: a.blocks } : {}),
        ...(a.threadTs ? { thread_ts: a.threadTs } : {}),
        ...(a.broadcast ? { reply_broadcast: true } : {}),
        unfurl_links: false,
        unfurl_media: false,
      },
      a.channel,
    );
    if (typeof r.ts !== 'string') throw new HubError('PLATFORM_REFUSED', 'Slack chat.postMessage returned no ts', { retry: 'retry' });
    return r.ts;
  }

  async update(channel: string, ts: string, text: string, blocks: object[]): Promise<void> {
    await this.call('chat.update', { channel, ts, text, blocks }, channel);
  }

  /** Adds a reaction; one already there is fine. */
  async react(channel: string, ts: string, name: string): Promise<void> {
    try {
      await this.call('reactions.add', { channel, timestamp: ts, name }, channel);
    } catch (err) {
      if (slackCode(err) === 'already_reacted') return;
      throw err;
    }
  }

  /** An agent's display name (cached); undefined when Slack does not answer in time. */
  async userName(userId: string, timeoutMs = 1500): Promise<string | undefined> {
    const cached = this.names.get(userId);
    if (cached) return cached;
    try {
      const r = await Promise.race([
        this.call('users.info', { user: userId }),
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), timeoutMs).unref()),
      ]);
      const user = r?.user as { name?: string; real_name?: string; profile?: { display_name?: string; real_name?: string } } | undefined;
      const name = user?.profile?.display_name || user?.profile?.real_name || user?.real_name || user?.name;
      if (name) this.names.set(userId, name);
      return name;
    } catch (err) {
      this.log.warn({ user: userId }, `users.info failed: ${errorMessage(err)}`);
      return undefined;
    }
  }

  rememberName(userId: string, name: string): void {
    this.names.set(userId, name);
  }
}
