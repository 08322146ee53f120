import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex, Readable } from 'node:stream';
import type { Logger } from 'pino';
import type {
  Capabilities,
  ChannelName,
  InboundMessage,
  JsonValue,
  OutboundMessage,
  SendResult,
  MessageAuthor,
} from './types.js';

/** What the hub's HTTP server tells a handler about the request. */
export interface RequestInfo {
  /** The request id, also on the server's log lines and in the `x-request-id` answer header. */
  id: string;
  /**
   * The client's address as the server computed it under `server.trustProxy`: the peer's address,
   * or behind trusted proxies the address the nearest trusted proxy reported. Never read
   * `X-Forwarded-For` yourself.
   */
  ip: string;
  /** true when the client reached the hub over https (directly, or as a trusted proxy says). */
  https: boolean;
  /**
   * The request's cookies, parsed by the server from its `Cookie` header (name -> decoded value;
   * the first of a repeated name wins; empty without the header). Upgrade requests get them too.
   * Never parse the `Cookie` header yourself.
   */
  cookies: Readonly<Record<string, string>>;
}

/**
 * A raw handler: it owns `res`. A request body (POST, PUT, PATCH, DELETE) was already read by the
 * server within the route's body limit (413 beyond it) and is handed over as `req`'s stream, unchanged.
 */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse, info: RequestInfo) => void | Promise<void>;
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, info: RequestInfo) => void;

/** A limit per client IP, shared by every gateway of the hub (kept in Redis). */
export interface HttpRateLimit {
  /** Requests allowed per window; the next one is answered 429 with Retry-After. */
  max: number;
  windowMs: number;
}

export interface RouteOptions {
  /** Largest request body in bytes (default `server.bodyLimit`); beyond it the answer is 413 and the handler is not called. */
  bodyLimit?: number;
  rateLimit?: HttpRateLimit;
}

/** Where adapters hang webhook endpoints and pages on the hub's own HTTP server. */
export interface HttpRoutes {
  /** `path` is exact, or a prefix when it ends with `*`. Register in `mount`, before the server starts. */
  route(method: string, path: string, handler: HttpHandler, options?: RouteOptions): void;
  /** WebSocket (or other) upgrades on `path`; the handler owns the socket. */
  upgrade(path: string, handler: UpgradeHandler, options?: Pick<RouteOptions, 'rateLimit'>): void;
}

/** Cross-process notifications (Redis pub/sub), e.g. to reach the process holding a WebSocket. */
export interface Bus {
  publish(topic: string, payload: string): Promise<void>;
  subscribe(topic: string, handler: (payload: string) => void): Promise<() => Promise<void>>;
}

export interface AcceptResult {
  /**
   * Queue job id (`channel~platformMessageId`). A redelivered platform message gets the same id and
   * is answered once: the job id dedupes while the job is kept, the database key always.
   */
  jobId: string;
}

export interface HistoryItem {
  id: string;
  author: MessageAuthor;
  authorName?: string;
  text: string;
  at: number;
  buttons?: { label: string; value: string }[];
}

/** The bytes behind an attachment's `fetchHandle`, fetched by the adapter from its platform. */
export interface AttachmentContent {
  body: Readable;
  /** The platform's content type, when it tells; the hub serves only a few types inline. */
  mimeType?: string;
  size?: number;
  /** A file name for the download. */
  name?: string;
}

/**
 * Fetches one attachment by its `fetchHandle`. Rejects with HubError NOT_FOUND (gone), PLATFORM_REFUSED
 * (e.g. too big for the platform's API) or NETWORK; error texts name no platform secret (they are
 * shown to the agent who opened the link).
 */
export type AttachmentFetcher = (handle: string, signal: AbortSignal) => Promise<AttachmentContent>;

/**
 * Small state of one channel in the database (an IMAP cursor, a thread map), shared by every
 * process and moving with the channel's lease. Writes are compare-and-set on the version.
 */
export interface ChannelState {
  get(key: string): Promise<{ value: JsonValue; version: number } | undefined>;
  /** Writes when the stored version is `expectedVersion` (0: the key must not exist); the new version, or undefined when someone else wrote first. */
  set(key: string, value: JsonValue, expectedVersion: number): Promise<number | undefined>;
  delete(key: string): Promise<void>;
}

/** What the hub gives an adapter. Everything here is safe to call from any process role. */
export interface AdapterContext {
  /**
   * Hands an inbound message to the hub. Resolves once the message is durably queued: acknowledge
   * the platform only after this resolves. Rejects with HubError('INPUT_INVALID') for bad input.
   */
  accept(message: InboundMessage): Promise<AcceptResult>;
  http: HttpRoutes;
  bus: Bus;
  log: Logger;
  /** This channel's state store (`channel_state` rows of this channel only). */
  state(channel: ChannelName): ChannelState;
  /** Past messages of the customer behind (channel, platform user id), oldest first. */
  history(channel: ChannelName, platformUserId: string, limit: number): Promise<HistoryItem[]>;
  /**
   * Whether the customer behind (channel, platform user id) is with a person now (their current
   * conversation waits for or has an agent): no bot will answer at once, so a channel shows no
   * "typing" for their message.
   */
  withPerson(channel: ChannelName, platformUserId: string): Promise<boolean>;
  /**
   * Lets agents open this channel's attachments without any platform secret: a desk links them as
   * short-lived signed hub URLs (`/files/<channel>/<fetchHandle>?exp=…&sig=…`), and the hub serving
   * such a URL calls `fetch`. Call it in `mount` (every process mounts, so every process can link).
   */
  serveAttachments?(channel: ChannelName, fetch: AttachmentFetcher): void;
}

/**
 * One interface for every channel. Lifecycle: `mount` in every process (register webhook routes,
 * build API clients; no network calls), `connect` only in the process that holds the channel's lease
 * when `connection` is `long`, `send` from outbound workers, `stop` on shutdown.
 */
export interface ChannelAdapter {
  readonly channel: ChannelName;
  readonly capabilities: Capabilities;
  /**
   * `long`: the adapter holds one connection (long polling, IMAP IDLE, a WeChat login); exactly one
   * gateway runs it at a time under a Redis lease. `stateless`: webhooks, served by any process.
   */
  readonly connection: 'long' | 'stateless';
  /** true when `send` only works in the process holding the connection (a logged-in WeChat puppet). */
  readonly sendNeedsConnection: boolean;
  mount(ctx: AdapterContext): Promise<void>;
  connect?(): Promise<void>;
  disconnect?(): Promise<void>;
  send(message: OutboundMessage): Promise<SendResult>;
  stop(): Promise<void>;
}
