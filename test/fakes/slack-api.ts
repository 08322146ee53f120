import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseQuery } from 'node:querystring';
import { WebSocketServer, type WebSocket } from 'ws';

export interface SlackCall {
  method: string;
  body: Record<string, unknown>;
  /** The response status the fake gave. */
  status: number;
  /** true when the answer was `ok: true`. */
  ok: boolean;
  at: number;
}

/** A 429 with Retry-After, a Slack error answer, the connection dropped without an answer, or a normal answer after a delay. */
export type Failure = { status: 429; retryAfter: number } | { error: string } | { network: true } | { delayMs: number };

export interface FakeUser {
  name: string;
  real_name: string;
  display_name: string;
  /** Shown only when set (the app has users:read.email). */
  email?: string;
  /** The user's workspace (another one for a Slack Connect customer). */
  team_id?: string;
}

export interface FakeSlack {
  /** Web API base URL, ending with '/'. */
  apiUrl: string;
  calls: SlackCall[];
  /** Successful calls of one method. */
  ok(method: string): SlackCall[];
  /** The next call of `method` fails this way (queued: call several times for several failures). */
  failNext(method: string, f: Failure): void;
  users: Map<string, FakeUser>;
  /** Workspaces team.info knows (id -> name); others answer team_not_found. */
  teams: Map<string, string>;
  /** Files files.info knows; their bytes are served at `url_private_download` to the bot token only. */
  files: Map<string, { name: string; mimetype: string; content: Buffer }>;
  /** The bot token the file downloads require. */
  botToken: string;
  /** Socket Mode: connections the app holds right now, and how many it opened in all. */
  sockets(): { open: number; opened: number };
  /**
   * Socket Mode: sends an envelope (`events_api` with an event callback body, or `interactive`) to
   * the app's connection; resolves with whether the app acknowledged it within `ackWithinMs`.
   */
  socketEnvelope(type: 'events_api' | 'interactive', payload: Record<string, unknown>, ackWithinMs?: number): Promise<boolean>;
  close(): Promise<void>;
}

const BOT = { user_id: 'UBOT', bot_id: 'BBOT', team_id: 'T1', user: 'switchboard', team: 'Test' };

/** A fake Slack Web API: the methods the desk uses, form or JSON bodies, Slack-shaped answers. */
export async function startFakeSlack(): Promise<FakeSlack> {
  const calls: SlackCall[] = [];
  const failures = new Map<string, Failure[]>();
  const users = new Map<string, FakeUser>();
  const teams = new Map<string, string>();
  const files = new Map<string, { name: string; mimetype: string; content: Buffer }>();
  const BOT_TOKEN = 'xoxb-test';
  let base = '';
  const messages = new Set<string>();
  let seq = 0;

  const server = createServer((req, res) => void handle(req, res));
  const wss = new WebSocketServer({ noServer: true });
  const open = new Set<WebSocket>();
  const acks = new Map<string, () => void>();
  let opened = 0;
  server.on('upgrade', (req, socket, head) => {
    if (req.url !== '/socket') {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      opened++;
      open.add(ws);
      ws.on('close', () => open.delete(ws));
      ws.on('message', (data) => {
        const id = (JSON.parse(String(data)) as { envelope_id?: string }).envelope_id;
        if (id) acks.get(id)?.();
      });
      ws.send(JSON.stringify({ type: 'hello', num_connections: open.size, connection_info: { app_id: 'A1' } }));
    });
  });
  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const download = /^\/files-pri\/(F\w+)$/.exec(req.url ?? '');
    if (req.method === 'GET' && download) {
      const f = files.get(download[1] ?? '');
      if (req.headers.authorization !== `Bearer ${BOT_TOKEN}`) res.writeHead(403).end('forbidden');
      else if (!f) res.writeHead(404).end('not found');
      else res.writeHead(200, { 'content-type': f.mimetype, 'content-length': String(f.content.length) }).end(f.content);
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const method = (req.url ?? '/').split('?')[0]?.replace(/^\/+/, '').replace(/^api\//, '') ?? '';
    const body: Record<string, unknown> = {};
    if ((req.headers['content-type'] ?? '').includes('application/json')) Object.assign(body, raw ? JSON.parse(raw) : {});
    else {
      for (const [k, v] of Object.entries(parseQuery(raw))) {
        const s = Array.isArray(v) ? v[0] : v;
        body[k] = s !== undefined && /^[[{]/.test(s) ? JSON.parse(s) : s;
      }
    }
    delete body.token;
    const send = (status: number, json: Record<string, unknown>, headers: Record<string, string> = {}) => {
      calls.push({ method, body, status, ok: json.ok === true, at: Date.now() });
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(json));
    };
    const f = failures.get(method)?.shift();
    if (f && 'delayMs' in f) await new Promise((r) => setTimeout(r, f.delayMs));
    if (f && 'network' in f) {
      calls.push({ method, body, status: 0, ok: false, at: Date.now() });
      res.socket?.destroy();
      return;
    }
    if (f && 'status' in f) return send(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(f.retryAfter) });
    if (f && 'error' in f) return send(200, { ok: false, error: f.error });
    switch (method) {
      case 'apps.connections.open':
        return send(200, { ok: true, url: `${base.replace(/^http/, 'ws')}/socket` });
      case 'auth.test':
        return send(200, { ok: true, ...BOT });
      case 'chat.postMessage': {
        const ts = `${1_700_000_000 + ++seq}.${String(seq).padStart(6, '0')}`;
        messages.add(`${String(body.channel)}/${ts}`);
        return send(200, { ok: true, channel: body.channel, ts, message: { text: body.text, ts, bot_id: BOT.bot_id } });
      }
      case 'chat.postEphemeral':
        return send(200, { ok: true, message_ts: `${Date.now() / 1000}` });
      case 'chat.update':
        if (!messages.has(`${String(body.channel)}/${String(body.ts)}`)) return send(200, { ok: false, error: 'message_not_found' });
        return send(200, { ok: true, channel: body.channel, ts: body.ts });
      case 'users.info': {
        const id = String(body.user);
        const u = users.get(id) ?? { name: id.toLowerCase(), real_name: `Agent ${id}`, display_name: '' };
        const profile = { display_name: u.display_name, real_name: u.real_name, ...(u.email ? { email: u.email } : {}) };
        return send(200, { ok: true, user: { id, name: u.name, real_name: u.real_name, team_id: u.team_id ?? BOT.team_id, profile } });
      }
      case 'files.info': {
        const id = String(body.file);
        const f = files.get(id);
        if (!f) return send(200, { ok: false, error: 'file_not_found' });
        return send(200, { ok: true, file: { id, name: f.name, mimetype: f.mimetype, size: f.content.length, url_private_download: `${base}/files-pri/${id}` } });
      }
      case 'team.info': {
        const id = String(body.team ?? BOT.team_id);
        const name = teams.get(id);
        return name ? send(200, { ok: true, team: { id, name, domain: name.toLowerCase() } }) : send(200, { ok: false, error: 'team_not_found' });
      }
      case 'conversations.info':
        return send(200, { ok: true, channel: { id: body.channel, name: 'support-cases', is_member: true } });
      case 'reactions.add':
        return send(200, { ok: true });
      default:
        return send(200, { ok: false, error: 'unknown_method' });
    }
  }
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  return {
    apiUrl: `http://127.0.0.1:${port}/api/`,
    calls,
    ok: (method) => calls.filter((c) => c.method === method && c.ok),
    failNext: (method, f) => failures.set(method, [...(failures.get(method) ?? []), f]),
    users,
    teams,
    files,
    botToken: BOT_TOKEN,
    sockets: () => ({ open: open.size, opened }),
    socketEnvelope: (type, payload, ackWithinMs = 5000) => {
      const ws = [...open][0];
      if (!ws) return Promise.reject(new Error('no Socket Mode connection'));
      const id = `env-${++seq}`;
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          acks.delete(id);
          resolve(false);
        }, ackWithinMs);
        acks.set(id, () => {
          clearTimeout(timer);
          acks.delete(id);
          resolve(true);
        });
        ws.send(JSON.stringify({ envelope_id: id, type, payload, accepts_response_payload: false, retry_attempt: 0, retry_reason: '' }));
      });
    },
    close: () =>
      new Promise<void>((r) => {
        for (const ws of open) ws.terminate();
        wss.close();
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
