/**
 * A fake Telegram Bot API server on 127.0.0.1 (random port), for tests that drive the real telegraf
 * client. It speaks the real wire format: `POST /bot<token>/<method>` with JSON, urlencoded or
 * multipart bodies (as telegraf sends them), `{ ok, result }` / `{ ok: false, error_code,
 * description, parameters }` answers with the matching HTTP status, and `GET /file/bot<token>/<path>`.
 *
 *   const tg = await startFakeTelegram();
 *   new Telegram(tg.token, { apiRoot: tg.apiRoot });
 *   tg.pushUpdate(tg.updates.text(42, 'hi'));      // served to getUpdates (long poll, offset honoured)
 *   tg.failNext('sendMessage', { error_code: 429, description: 'Too Many Requests: retry after 1', parameters: { retry_after: 1 } });
 *   tg.failNext('sendMessage', 'network');          // the connection is reset
 *   tg.blockUser(42);                               // sendMessage -> 403 "bot was blocked by the user"
 *   tg.sent, tg.answeredCallbacks, tg.calls, tg.webhook
 *   await tg.close();
 *
 * Methods: getMe, getUpdates, sendMessage, sendChatAction, answerCallbackQuery,
 * editMessageReplyMarkup, getFile, setWebhook, deleteWebhook, getWebhookInfo.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Params = Record<string, unknown>;
export type Update = { update_id: number } & Record<string, unknown>;

export interface ApiFailure {
  error_code: number;
  description: string;
  parameters?: { retry_after?: number; migrate_to_chat_id?: number };
}

export interface Call {
  method: string;
  params: Params;
  at: number;
  /** HTTP status the fake answered with. */
  status: number;
}

export interface SentMessage {
  message_id: number;
  chat_id: string;
  text: string;
  params: Params;
  at: number;
}

export interface WebhookInfo {
  url: string;
  secret_token?: string;
  allowed_updates?: string[];
}

export interface FakeTelegram {
  apiRoot: string;
  token: string;
  bot: { id: number; is_bot: true; first_name: string; username: string };
  calls: Call[];
  sent: SentMessage[];
  answeredCallbacks: Params[];
  webhook: WebhookInfo | undefined;
  /** Real-shaped update builders (message ids and dates filled in). */
  updates: UpdateBuilders;
  /** Queues an update for getUpdates; assigns `update_id` when missing. Returns it. */
  pushUpdate(update: Record<string, unknown>): Update;
  /**
   * Serves an update again on the next getUpdates whatever the offset, as Telegram does when an
   * acknowledgement never reached it (a gateway crashed between accepting and confirming).
   */
  redeliver(update: Update): void;
  /** update_ids served by getUpdates, in order (a redelivered one appears twice). */
  served: number[];
  /** The next `times` calls of `method` fail (API error, or `network`: the socket is destroyed). */
  failNext(method: string, failure: ApiFailure | 'network', times?: number): void;
  /** sendMessage to this chat answers 403 "Forbidden: bot was blocked by the user". */
  blockUser(chatId: number | string): void;
  /**
   * getFile of this file_id answers with this size and `path` (default `documents/file_<id>.bin`);
   * over 20 MB: 400 "file is too big". `GET /file/bot<token>/<path>` serves `content`.
   */
  addFile(fileId: string, size: number, content?: string | Buffer, path?: string): void;
  /** Downloads of `/file/bot<token>/…` (the path after the token; `token` says whether it was right). */
  downloads: { path: string; token: boolean }[];
  callsOf(method: string): Call[];
  /** Resolves once `predicate` holds (polled), rejects after `timeoutMs`. */
  waitFor<T>(predicate: () => T | undefined | false, timeoutMs?: number, what?: string): Promise<T>;
  /** Number of getUpdates requests waiting right now (a poller is connected). */
  pollers(): number;
  close(): Promise<void>;
}

export interface UpdateBuilders {
  text(userId: number, text: string, opts?: { chat?: Chat; entities?: Entity[]; reply_to_message?: Params; language_code?: string; first_name?: string }): Record<string, unknown>;
  /** A private photo message (three sizes; the largest has `fileId`), as Telegram sends it. */
  photo(userId: number, fileId: string, opts?: { caption?: string; first_name?: string; size?: number }): Record<string, unknown>;
  callback(userId: number, data: string, message?: Params): Record<string, unknown>;
  /** A bot message with an inline keyboard, as a callback query carries it. */
  botMessage(chatId: number, text: string, buttons: { text: string; callback_data: string }[][]): Params;
}

interface Chat {
  id: number;
  type: 'private' | 'group' | 'supergroup' | 'channel';
  title?: string;
}
interface Entity {
  type: string;
  offset: number;
  length: number;
}

const MAX_DOWNLOAD = 20 * 1024 * 1024;

export async function startFakeTelegram(opts: { token?: string } = {}): Promise<FakeTelegram> {
  const token = opts.token ?? '123456789:AAFakeTokenForTestsOnly-abcdefghijkl';
  const bot = { id: 123456789, is_bot: true as const, first_name: 'Switchboard Test', username: 'switchboard_test_bot' };
  const calls: Call[] = [];
  const sent: SentMessage[] = [];
  const answeredCallbacks: Params[] = [];
  const failures = new Map<string, (ApiFailure | 'network')[]>();
  const blocked = new Set<string>();
  const files = new Map<string, { size: number; content: string | Buffer; path: string }>();
  const downloads: { path: string; token: boolean }[] = [];
  const defaultPath = (id: string) => `documents/file_${id.slice(0, 12)}.bin`;
  const openCallbacks = new Set<string>();
  let queue: Update[] = [];
  let forced: Update[] = [];
  const served: number[] = [];
  let nextUpdateId = 500_000 + Math.floor(Math.random() * 1000);
  let nextMessageId = 1000;
  let nextCallbackId = 1;
  let pending: { resolve: () => void; res: ServerResponse } | undefined;

  const now = () => Math.floor(Date.now() / 1000);

  const updates: UpdateBuilders = {
    text(userId, text, o = {}) {
      const chat = o.chat ?? { id: userId, type: 'private' as const };
      const cmd = /^\/[A-Za-z0-9_]+(@[A-Za-z0-9_]+)?/.exec(text);
      const entities = o.entities ?? (cmd ? [{ type: 'bot_command', offset: 0, length: cmd[0].length }] : undefined);
      return {
        message: {
          message_id: ++nextMessageId,
          from: { id: userId, is_bot: false, first_name: o.first_name ?? `User${userId}`, language_code: o.language_code ?? 'en' },
          chat: chat.type === 'private' ? { id: chat.id, first_name: o.first_name ?? `User${userId}`, type: 'private' } : chat,
          date: now(),
          text,
          ...(entities ? { entities } : {}),
          ...(o.reply_to_message ? { reply_to_message: o.reply_to_message } : {}),
        },
      };
    },
    photo(userId, fileId, o = {}) {
      const name = o.first_name ?? `User${userId}`;
      const unique = `AQAD${fileId.slice(-6)}`;
      return {
        message: {
          message_id: ++nextMessageId,
          from: { id: userId, is_bot: false, first_name: name, language_code: 'en' },
          chat: { id: userId, first_name: name, type: 'private' },
          date: now(),
          photo: [
            { file_id: `${fileId}_s`, file_unique_id: `${unique}s`, file_size: 1200, width: 90, height: 67 },
            { file_id: `${fileId}_m`, file_unique_id: `${unique}m`, file_size: 14_000, width: 320, height: 240 },
            { file_id: fileId, file_unique_id: unique, file_size: o.size ?? 80_000, width: 1280, height: 960 },
          ],
          ...(o.caption ? { caption: o.caption } : {}),
        },
      };
    },
    callback(userId, data, message) {
      const id = `${4_000_000_000 + nextCallbackId++}`;
      openCallbacks.add(id);
      return {
        callback_query: {
          id,
          from: { id: userId, is_bot: false, first_name: `User${userId}`, language_code: 'en' },
          chat_instance: '-4242424242',
          ...(message ? { message } : {}),
          data,
        },
      };
    },
    botMessage(chatId, text, buttons) {
      return {
        message_id: ++nextMessageId,
        from: bot,
        chat: { id: chatId, first_name: `User${chatId}`, type: 'private' },
        date: now(),
        text,
        reply_markup: { inline_keyboard: buttons },
      };
    },
  };

  function wake(): void {
    const p = pending;
    pending = undefined;
    p?.resolve();
  }

  function reply(res: ServerResponse, status: number, body: unknown): number {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
    return status;
  }
  const ok = (res: ServerResponse, result: unknown) => reply(res, 200, { ok: true, result });
  const fail = (res: ServerResponse, f: ApiFailure): number => {
    if (f.error_code >= 500) {
      // What a proxy in front of the Bot API answers: an HTML page, no JSON.
      res.writeHead(f.error_code, { 'content-type': 'text/html' });
      res.end(`<html><body>${f.description}</body></html>`);
      return f.error_code;
    }
    return reply(res, f.error_code, { ok: false, error_code: f.error_code, description: f.description, ...(f.parameters ? { parameters: f.parameters } : {}) });
  };

  async function getUpdates(p: Params, req: IncomingMessage, res: ServerResponse): Promise<number> {
    if (webhookInfo.current) {
      return fail(res, { error_code: 409, description: "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first" });
    }
    const offset = Number(p.offset ?? 0);
    const limit = Math.min(100, Number(p.limit ?? 100) || 100);
    const timeout = Number(p.timeout ?? 0);
    if (offset > 0) queue = queue.filter((u) => u.update_id >= offset);
    const ready = () => [...forced, ...queue.filter((u) => u.update_id >= offset)].slice(0, limit);
    if (ready().length === 0 && timeout > 0) {
      if (pending) {
        const old = pending;
        pending = undefined;
        fail(old.res, { error_code: 409, description: 'Conflict: terminated by other getUpdates request; make sure that only one bot instance is running' });
        old.resolve();
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, timeout * 1000);
        const entry = { resolve: done, res };
        pending = entry;
        res.once('close', done);
        function done() {
          clearTimeout(t);
          if (pending === entry) pending = undefined;
          resolve();
        }
      });
      if (res.writableEnded || res.destroyed || req.socket.destroyed) return 409;
    }
    const batch = ready();
    forced = forced.filter((u) => !batch.includes(u));
    served.push(...batch.map((u) => u.update_id));
    return ok(res, batch);
  }

  function sendMessage(p: Params, res: ServerResponse): number {
    const chatId = p.chat_id === undefined ? '' : String(p.chat_id);
    const text = typeof p.text === 'string' ? p.text : '';
    if (!chatId) return fail(res, { error_code: 400, description: 'Bad Request: chat_id is empty' });
    if (blocked.has(chatId)) return fail(res, { error_code: 403, description: 'Forbidden: bot was blocked by the user' });
    if (text.trim() === '') return fail(res, { error_code: 400, description: 'Bad Request: message text is empty' });
    if (text.length > 4096) return fail(res, { error_code: 400, description: 'Bad Request: message is too long' });
    const entityError = checkMarkup(text, p.parse_mode);
    if (entityError) return fail(res, { error_code: 400, description: `Bad Request: can't parse entities: ${entityError}` });
    const markup = p.reply_markup;
    if (markup && typeof markup === 'object' && 'inline_keyboard' in markup) {
      for (const row of (markup as { inline_keyboard: { callback_data?: string }[][] }).inline_keyboard) {
        for (const b of row) {
          if (b.callback_data !== undefined && Buffer.byteLength(b.callback_data) > 64) {
            return fail(res, { error_code: 400, description: 'Bad Request: BUTTON_DATA_INVALID' });
          }
        }
      }
    }
    const message_id = ++nextMessageId;
    sent.push({ message_id, chat_id: chatId, text, params: p, at: Date.now() });
    const idNum = Number(chatId);
    return ok(res, {
      message_id,
      from: bot,
      chat: idNum > 0 ? { id: idNum, first_name: `User${idNum}`, type: 'private' } : { id: idNum, title: 'Group', type: 'supergroup' },
      date: now(),
      text,
      ...(markup ? { reply_markup: markup } : {}),
    });
  }

  const webhookInfo: { current: WebhookInfo | undefined } = { current: undefined };

  async function dispatch(method: string, p: Params, req: IncomingMessage, res: ServerResponse): Promise<number> {
    switch (method) {
      case 'getMe':
        return ok(res, { ...bot, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false });
      case 'getUpdates':
        return getUpdates(p, req, res);
      case 'sendMessage':
        return sendMessage(p, res);
      case 'sendChatAction':
        return ok(res, true);
      case 'answerCallbackQuery': {
        const id = String(p.callback_query_id ?? '');
        if (!openCallbacks.delete(id)) {
          return fail(res, { error_code: 400, description: 'Bad Request: query is too old and response timeout expired or query ID is invalid' });
        }
        answeredCallbacks.push(p);
        return ok(res, true);
      }
      case 'editMessageReplyMarkup':
        return ok(res, { message_id: Number(p.message_id), chat: { id: Number(p.chat_id), type: 'private' }, date: now(), text: '', ...(p.reply_markup ? { reply_markup: p.reply_markup } : {}) });
      case 'getFile': {
        const id = String(p.file_id ?? '');
        if (id.startsWith('unknown')) return fail(res, { error_code: 400, description: 'Bad Request: wrong file_id or the file is temporarily unavailable' });
        const f = files.get(id) ?? { size: 1234, content: 'file-bytes', path: defaultPath(id) };
        if (f.size > MAX_DOWNLOAD) return fail(res, { error_code: 400, description: 'Bad Request: file is too big' });
        return ok(res, { file_id: id, file_unique_id: `u${id.slice(0, 8)}`, file_size: f.size, file_path: f.path });
      }
      case 'setWebhook': {
        const url = String(p.url ?? '');
        webhookInfo.current = url
          ? {
              url,
              ...(typeof p.secret_token === 'string' ? { secret_token: p.secret_token } : {}),
              ...(Array.isArray(p.allowed_updates) ? { allowed_updates: p.allowed_updates as string[] } : {}),
            }
          : undefined;
        wake();
        return ok(res, true);
      }
      case 'deleteWebhook':
        webhookInfo.current = undefined;
        if (p.drop_pending_updates === true || p.drop_pending_updates === 'true') queue = [];
        return ok(res, true);
      case 'getWebhookInfo':
        return ok(res, { url: webhookInfo.current?.url ?? '', has_custom_certificate: false, pending_update_count: queue.length });
      default:
        return fail(res, { error_code: 404, description: 'Not Found' });
    }
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const file = /^\/file\/bot([^/]+)\/(.+)$/.exec(url.pathname);
      if (file && req.method === 'GET') {
        downloads.push({ path: file[2] ?? '', token: file[1] === token });
        if (file[1] !== token) return fail(res, { error_code: 401, description: 'Unauthorized' });
        const all = [...files.values()];
        const f = all.find((x) => x.path === file[2]);
        const content = f?.content ?? 'file-bytes';
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': Buffer.byteLength(content) });
        res.end(content);
        return;
      }
      const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(url.pathname);
      if (!m) return fail(res, { error_code: 404, description: 'Not Found' });
      const body = await readAll(req);
      const params: Params = { ...Object.fromEntries(url.searchParams), ...parseBody(req.headers['content-type'] ?? '', body) };
      if (typeof params.reply_markup === 'string') params.reply_markup = JSON.parse(params.reply_markup) as unknown;
      if (typeof params.allowed_updates === 'string') params.allowed_updates = JSON.parse(params.allowed_updates) as unknown;
      const method = m[2] ?? '';
      const call: Call = { method, params, at: Date.now(), status: 0 };
      calls.push(call);
      if (m[1] !== token) {
        call.status = fail(res, { error_code: 401, description: 'Unauthorized' });
        return;
      }
      const queued = failures.get(method);
      const failure = queued?.shift();
      if (failure === 'network') {
        call.status = -1;
        req.socket.destroy();
        return;
      }
      if (failure) {
        call.status = fail(res, failure);
        return;
      }
      call.status = await dispatch(method, params, req, res);
    })().catch((err: unknown) => {
      if (!res.headersSent) reply(res, 500, { ok: false, error_code: 500, description: String(err) });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;

  return {
    apiRoot: `http://127.0.0.1:${port}`,
    token,
    bot,
    calls,
    sent,
    answeredCallbacks,
    get webhook() {
      return webhookInfo.current;
    },
    updates,
    pushUpdate(update) {
      const u = { ...update, update_id: typeof update.update_id === 'number' ? update.update_id : nextUpdateId++ } as Update;
      queue.push(u);
      wake();
      return u;
    },
    redeliver(update) {
      forced.push(update);
      wake();
    },
    served,
    failNext(method, failure, times = 1) {
      const list = failures.get(method) ?? [];
      for (let i = 0; i < times; i++) list.push(failure);
      failures.set(method, list);
    },
    blockUser(chatId) {
      blocked.add(String(chatId));
    },
    addFile(fileId, size, content = 'file-bytes', path = defaultPath(fileId)) {
      files.set(fileId, { size, content, path });
    },
    downloads,
    callsOf(method) {
      return calls.filter((c) => c.method === method);
    },
    async waitFor(predicate, timeoutMs = 10_000, what = 'condition') {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = predicate();
        if (v !== undefined && v !== false) return v;
        if (Date.now() > deadline) throw new Error(`fake telegram: timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 15));
      }
    },
    pollers() {
      return pending ? 1 : 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        wake();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function readAll(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseBody(contentType: string, body: Buffer): Params {
  if (body.length === 0) return {};
  if (contentType.startsWith('application/json')) return JSON.parse(body.toString('utf8')) as Params;
  if (contentType.startsWith('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(body.toString('utf8')));
  const boundary = /boundary=([^;]+)/.exec(contentType)?.[1];
  if (contentType.startsWith('multipart/form-data') && boundary) {
    const out: Params = {};
    for (const part of body.toString('latin1').split(`--${boundary}`)) {
      const sep = part.indexOf('\r\n\r\n');
      if (sep < 0) continue;
      const name = /name="([^"]+)"/.exec(part.slice(0, sep))?.[1];
      if (!name || /filename=/.test(part.slice(0, sep))) continue;
      out[name] = Buffer.from(part.slice(sep + 4).replace(/\r\n$/, ''), 'latin1').toString('utf8');
    }
    return out;
  }
  return {};
}

/** Rough entity parsing of the Bot API: what makes a send with `parse_mode` fail on raw text. */
function checkMarkup(text: string, parseMode: unknown): string | undefined {
  if (parseMode === undefined || parseMode === null || parseMode === '') return undefined;
  if (parseMode === 'MarkdownV2') {
    const bad = /(?<!\\)[_*[\]()~`>#+\-=|{}.!]/.exec(text.replace(/\\\\/g, ''));
    return bad ? `character '${bad[0]}' is reserved and must be escaped with the preceding '\\'` : undefined;
  }
  if (parseMode === 'Markdown') {
    for (const c of ['*', '_', '`', '[']) {
      if ((text.split(c).length - 1) % 2 !== 0) return `can't find end of the entity starting at byte offset ${text.indexOf(c)}`;
    }
    return undefined;
  }
  if (parseMode === 'HTML') {
    if (/<(?!\/?(b|i|u|s|a|code|pre|strong|em|ins|del|strike|span|tg-spoiler|blockquote)\b)/.test(text)) return 'unsupported start tag';
    if (/&(?!(lt|gt|amp|quot|#\d+);)/.test(text)) return 'semicolon expected';
    return undefined;
  }
  return `unsupported parse_mode ${String(parseMode)}`;
}
