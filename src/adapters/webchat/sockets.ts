import { WebSocket } from 'ws';
import type { Bus } from '../../core/adapter.js';
import type { Logger } from 'pino';
import { errorMessage } from '../../core/errors.js';
import { isServerFrame, type ServerFrame } from './mapper.js';

/** How long the typing dots stay on when no reply comes (escalated, agent not there yet). */
export const TYPING_TIMEOUT_MS = 15_000;
/** Open tabs of one visitor in one process; more are refused. */
export const MAX_SOCKETS_PER_VISITOR = 20;

interface Visitor {
  sockets: Set<WebSocket>;
  unsubscribe: Promise<() => Promise<void>>;
  typingTimer: NodeJS.Timeout | undefined;
  /** When this process last forwarded a bot/agent reply (drops a typing-on that lost the race). */
  lastReplyAt: number;
}

/** What travels on the bus: a server frame plus when it was made. */
interface BusEnvelope {
  at: number;
  frame: ServerFrame;
}

export function busTopic(visitorId: string): string {
  return `webchat:${visitorId}`;
}

export function encodeBus(frame: ServerFrame, at: number): string {
  const env: BusEnvelope = { at, frame };
  return JSON.stringify(env);
}

export function sendFrame(ws: WebSocket, frame: ServerFrame): void {
  if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame));
}

/**
 * The WebSockets this process holds, by visitor. A visitor with at least one socket here is
 * subscribed to its bus topic; frames published by any process reach every tab.
 */
export class SocketRegistry {
  private readonly visitors = new Map<string, Visitor>();

  constructor(
    private readonly bus: Bus,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** Registers a socket; resolves once its bus subscription is live (false: too many tabs). */
  async add(visitorId: string, ws: WebSocket): Promise<boolean> {
    let v = this.visitors.get(visitorId);
    if (!v) {
      const unsubscribe = this.bus.subscribe(busTopic(visitorId), (p) => this.onBus(visitorId, p));
      v = { sockets: new Set(), unsubscribe, typingTimer: undefined, lastReplyAt: 0 };
      this.visitors.set(visitorId, v);
      const entry = v;
      unsubscribe.catch((err) => {
        this.log.warn({ visitorId }, `webchat bus subscribe failed: ${errorMessage(err)}`);
        if (this.visitors.get(visitorId) === entry) this.visitors.delete(visitorId); // the next tab tries again
      });
    }
    if (v.sockets.size >= MAX_SOCKETS_PER_VISITOR) return false;
    v.sockets.add(ws);
    await v.unsubscribe;
    return true;
  }

  remove(visitorId: string, ws: WebSocket): void {
    const v = this.visitors.get(visitorId);
    if (!v || !v.sockets.delete(ws) || v.sockets.size > 0) return;
    this.visitors.delete(visitorId);
    if (v.typingTimer) clearTimeout(v.typingTimer);
    v.unsubscribe.then((un) => un()).catch(() => undefined);
  }

  allSockets(): WebSocket[] {
    return [...this.visitors.values()].flatMap((v) => [...v.sockets]);
  }

  /** Forwards a published frame to this process's sockets of the visitor. */
  private onBus(visitorId: string, payload: string): void {
    const env = parseEnvelope(payload);
    const v = this.visitors.get(visitorId);
    if (!env || !v) return;
    const { frame } = env;
    if (frame.type === 'typing') {
      if (frame.on && v.lastReplyAt >= env.at) return; // the reply beat the typing indicator here
      if (v.typingTimer) clearTimeout(v.typingTimer);
      v.typingTimer = undefined;
      if (frame.on) {
        v.typingTimer = setTimeout(() => {
          v.typingTimer = undefined;
          this.toSockets(v, { type: 'typing', on: false });
        }, TYPING_TIMEOUT_MS);
        v.typingTimer.unref();
      }
    } else if (frame.type === 'message' && frame.author !== 'customer') {
      v.lastReplyAt = this.now();
      if (v.typingTimer) {
        clearTimeout(v.typingTimer);
        v.typingTimer = undefined;
        this.toSockets(v, { type: 'typing', on: false });
      }
    }
    this.toSockets(v, frame);
  }

  private toSockets(v: Visitor, frame: ServerFrame): void {
    for (const ws of v.sockets) sendFrame(ws, frame);
  }

  async closeAll(): Promise<void> {
    const all = [...this.visitors.values()];
    this.visitors.clear();
    for (const v of all) {
      if (v.typingTimer) clearTimeout(v.typingTimer);
      for (const ws of v.sockets) ws.close(1001, 'server shutting down');
      await v.unsubscribe.then((un) => un()).catch(() => undefined);
    }
  }
}

function parseEnvelope(payload: string): BusEnvelope | undefined {
  try {
    const v: unknown = JSON.parse(payload);
    if (typeof v !== 'object' || v === null) return undefined;
    const { at, frame } = v as { at?: unknown; frame?: unknown };
    return typeof at === 'number' && isServerFrame(frame) ? { at, frame } : undefined;
  } catch {
    return undefined;
  }
}
