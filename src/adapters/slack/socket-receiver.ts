import { SocketModeReceiver, type App, type Receiver, type ReceiverEvent } from '@slack/bolt';
import type { Logger } from 'pino';
import { errorMessage } from '../../core/errors.js';
import { slackLogger } from './api.js';

/** What this receiver needs of a Socket Mode client (Bolt's own, or a test double). */
export interface SocketClientLike {
  on(event: 'slack_event', listener: (args: SocketEventArgs) => void): unknown;
  removeAllListeners(event: 'slack_event'): unknown;
  start(): Promise<unknown>;
  disconnect(): Promise<void> | void;
}

export interface SocketEventArgs {
  body: Record<string, unknown>;
  ack: (response?: Record<string, unknown>) => Promise<void>;
  retry_num?: number;
  retry_reason?: string;
}

/**
 * Socket Mode with the envelope acknowledged only after the listeners finished (Bolt's own
 * SocketModeReceiver acks events before running them): an event whose durable queueing failed is
 * not acknowledged, so Slack redelivers it.
 */
export class DeferredAckSocketReceiver implements Receiver {
  private app: Pick<App, 'processEvent'> | undefined;
  readonly client: SocketClientLike;

  constructor(
    opts: { appToken: string; log: Logger; /** Web API base URL (apps.connections.open); Slack's own by default. */ apiUrl?: string },
    client?: SocketClientLike,
    private readonly log: Logger = opts.log,
  ) {
    this.client =
      client ??
      new SocketModeReceiver({
        appToken: opts.appToken,
        logger: slackLogger(opts.log),
        ...(opts.apiUrl ? { installerOptions: { clientOptions: { slackApiUrl: opts.apiUrl } } } : {}),
      }).client;
    // Drop Bolt's immediate-ack listener (it never runs without init, but be explicit).
    this.client.removeAllListeners('slack_event');
    this.client.on('slack_event', (args) => void this.onEvent(args));
  }

  init(app: App): void {
    this.app = app;
  }

  async start(): Promise<unknown> {
    return this.client.start();
  }

  async stop(): Promise<unknown> {
    await this.client.disconnect();
    return undefined;
  }

  async onEvent(args: SocketEventArgs): Promise<void> {
    let response: Record<string, unknown> | undefined;
    const event: ReceiverEvent = {
      body: args.body,
      ack: async (r?: Record<string, unknown>) => {
        response = r;
      },
      ...(args.retry_num !== undefined ? { retryNum: args.retry_num } : {}),
      ...(args.retry_reason !== undefined ? { retryReason: args.retry_reason } : {}),
    };
    try {
      await this.app?.processEvent(event);
    } catch (err) {
      this.log.error(`slack socket event failed, not acknowledged (Slack will redeliver): ${errorMessage(err)}`);
      return;
    }
    // Acked after success, whether or not a listener called ack() (Bolt acks events itself).
    await args.ack(response);
  }
}
