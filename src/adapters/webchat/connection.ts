import { randomBytes } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import type { AdapterContext } from '../../core/adapter.js';
import { errorMessage, isHubError } from '../../core/errors.js';
import type { RateLimiter } from '../../core/rate-limit.js';
import { CHANNEL, customerEcho, parseClientFrame, toInbound, type ChatFrame, type ServerFrame, type VisitorSession } from './mapper.js';
import { identifyInbound, linkInbound, validUserHash } from './identity.js';
import { busTopic, encodeBus, sendFrame, type SocketRegistry } from './sockets.js';

/** Frames above this are answered with TOO_LARGE and dropped unparsed (the socket stays open). */
export const SOFT_FRAME_LIMIT = 128 * 1024;
/** `ws` maxPayload: beyond it the socket is closed with 1009 (memory bound per connection). */
export const HARD_FRAME_LIMIT = 2 * 1024 * 1024;
const HISTORY_LIMIT = 50;

export interface ConnectionDeps {
  ctx: AdapterContext;
  registry: SocketRegistry;
  perVisitor: RateLimiter;
  perIp: RateLimiter;
  /** Any frame, per socket: bounds the work a flood of junk or history requests can cause. */
  perSocket: RateLimiter;
  recent: RecentIds;
  /** Signed visitors: the key sites sign their user ids with (`identitySecret`); none: identify frames are ignored. */
  identitySecret?: string;
  now(): number;
}

/** Bounded memory of client message ids already accepted (dedupes typing dots and echoes on resend). */
export class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly max = 10_000) {}
  /** true when `key` was new. */
  add(key: string): boolean {
    if (this.ids.has(key)) return false;
    this.ids.add(key);
    if (this.ids.size > this.max) {
      const oldest = this.ids.values().next().value;
      if (oldest !== undefined) this.ids.delete(oldest);
    }
    return true;
  }
}

/** One browser tab: registers the socket, sends hello + history, then handles frames in order. */
export function serveConnection(deps: ConnectionDeps, ws: WebSocket, session: VisitorSession, ip: string): void {
  const { ctx, registry } = deps;
  const socketKey = randomBytes(9).toString('base64url');
  let chain: Promise<void> = (async () => {
    try {
      if (!(await registry.add(session.visitorId, ws))) {
        ws.close(1008, 'too many open chat tabs');
        return;
      }
    } catch {
      sendFrame(ws, { type: 'error', code: 'UNAVAILABLE', message: 'chat is unavailable right now; retrying' });
      ws.close(1011, 'bus unavailable'); // the widget reconnects with backoff
      return;
    }
    sendFrame(ws, { type: 'hello', visitorId: session.visitorId, ...(session.locale ? { locale: session.locale } : {}) });
    await sendHistory(deps, ws, session.visitorId);
  })();
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (!deps.perSocket.take(socketKey)) {
      sendFrame(ws, { type: 'error', code: 'RATE_LIMITED', message: 'too many frames; slow down' });
      return;
    }
    chain = chain
      .then(() => handleFrame(deps, ws, session, ip, data, isBinary))
      .catch((err) => ctx.log.warn({ visitorId: session.visitorId }, `webchat frame failed: ${errorMessage(err)}`));
  });
  ws.on('close', () => registry.remove(session.visitorId, ws));
  ws.on('error', () => undefined);
}

function rawText(data: RawData): Buffer {
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}

async function handleFrame(deps: ConnectionDeps, ws: WebSocket, session: VisitorSession, ip: string, data: RawData, isBinary: boolean): Promise<void> {
  const fail = (code: Extract<ServerFrame, { type: 'error' }>['code'], message: string, id?: string) =>
    sendFrame(ws, { type: 'error', code, message, ...(id ? { id } : {}) });
  if (isBinary) return fail('BAD_FRAME', 'binary frames are not supported: send JSON text frames');
  const buf = rawText(data);
  if (buf.length > SOFT_FRAME_LIMIT) return fail('TOO_LARGE', `frame is ${buf.length} bytes, the limit is ${SOFT_FRAME_LIMIT}`);
  const parsed = parseClientFrame(buf.toString('utf8'));
  if (!parsed.ok) return fail(parsed.code, parsed.message, parsed.id);
  const frame = parsed.frame;
  if (frame.type === 'identify') return identify(deps, session, frame);
  const id = frame.type === 'history' ? undefined : (frame.id ?? `b${randomBytes(9).toString('base64url')}`);
  if (!deps.perVisitor.take(session.visitorId) || !deps.perIp.take(ip)) {
    return fail('RATE_LIMITED', 'too many messages; please wait a moment and try again', id);
  }
  if (frame.type === 'history' || id === undefined) return sendHistory(deps, ws, session.visitorId);
  try {
    await deps.ctx.accept(frame.type === 'link' ? linkInbound(frame, session, deps.now()) : toInbound(frame, id, session, deps.now()));
  } catch (err) {
    if (isHubError(err, 'INPUT_INVALID')) return fail('INPUT_INVALID', err.message, id);
    deps.ctx.log.warn({ visitorId: session.visitorId }, `webchat accept failed: ${errorMessage(err)}`);
    return fail('UNAVAILABLE', 'the message could not be queued; it will be retried', id);
  }
  sendFrame(ws, { type: 'ack', id });
  if (frame.type !== 'link' && deps.recent.add(`${session.visitorId}:${id}`)) await announce(deps, session.visitorId, frame, id);
}

/** A signed visitor: a valid pair is handed to the core (which links); anything else stays anonymous, logged. */
async function identify(deps: ConnectionDeps, session: VisitorSession, frame: Extract<Parameters<typeof identifyInbound>[0], object>): Promise<void> {
  const log = deps.ctx.log;
  if (!deps.identitySecret) return log.debug({ visitorId: session.visitorId }, 'webchat: identify frame ignored (no channels.webchat.identitySecret)');
  if (!validUserHash(deps.identitySecret, frame.userId, frame.userHash)) {
    return log.warn({ visitorId: session.visitorId, hash: frame.userHash === undefined ? 'missing' : 'wrong' }, 'webchat: signed visitor refused (missing or wrong user hash); the visitor stays anonymous');
  }
  try {
    await deps.ctx.accept(identifyInbound(frame, session, deps.now()));
  } catch (err) {
    log.warn({ visitorId: session.visitorId }, `webchat identify not queued: ${errorMessage(err)}`);
  }
}

/**
 * Tells the visitor's other tabs (any process) about the message and turns the typing dots on —
 * unless a person has the conversation (the bot will not answer it; the agent's reply comes when it
 * comes).
 */
async function announce(deps: ConnectionDeps, visitorId: string, frame: ChatFrame, id: string): Promise<void> {
  const at = deps.now();
  try {
    await deps.ctx.bus.publish(busTopic(visitorId), encodeBus(customerEcho(frame, id), at));
    if (await deps.ctx.withPerson(CHANNEL, visitorId)) return;
    await deps.ctx.bus.publish(busTopic(visitorId), encodeBus({ type: 'typing', on: true }, at));
  } catch (err) {
    deps.ctx.log.warn({ visitorId }, `webchat bus publish failed: ${errorMessage(err)}`);
  }
}

async function sendHistory(deps: ConnectionDeps, ws: WebSocket, visitorId: string): Promise<void> {
  try {
    const messages = await deps.ctx.history(CHANNEL, visitorId, HISTORY_LIMIT);
    sendFrame(ws, { type: 'history', messages });
  } catch (err) {
    deps.ctx.log.warn({ visitorId }, `webchat history failed: ${errorMessage(err)}`);
    sendFrame(ws, { type: 'error', code: 'UNAVAILABLE', message: 'history is unavailable right now' });
  }
}
