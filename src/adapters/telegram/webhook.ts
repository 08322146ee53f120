import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { HttpHandler, RequestInfo } from '../../core/adapter.js';
import { errorMessage } from '../../core/errors.js';
import { readBody, safeEqual, sendJson } from '../../http/router.js';
import { updateIdOf } from './update-schema.js';

export const SECRET_HEADER = 'x-telegram-bot-api-secret-token';

export interface WebhookOptions {
  secretToken: string;
  log: Logger;
  /** Hands the update to the hub; rejects when Telegram should deliver it again. */
  handle(update: unknown): Promise<void>;
}

/**
 * POST handler for Telegram's webhook calls. The secret header is checked (constant time) before
 * the body is read; 401 when wrong or missing, 400 for a body that is not an update, 200 only once
 * the update is durably queued (or deliberately ignored), 503 when it could not be: Telegram retries.
 */
export function webhookHandler(o: WebhookOptions): HttpHandler {
  return async (req: IncomingMessage, res: ServerResponse, info: RequestInfo) => {
    if (!secretMatches(req.headers[SECRET_HEADER], o.secretToken)) {
      o.log.warn({ ip: info.ip, reqId: info.id }, 'telegram webhook call refused: wrong or missing secret token header');
      res.setHeader('connection', 'close');
      sendJson(res, 401, { ok: false, error: 'unauthorized' });
      return;
    }
    let body: Buffer;
    try {
      // Read by the hub's server within server.bodyLimit (413 beyond it, before this handler).
      body = await readBody(req);
    } catch (err) {
      const status = (err as { status?: number }).status === 413 ? 413 : 400;
      o.log.warn(`telegram webhook body unreadable: ${errorMessage(err)}`);
      if (!res.headersSent) sendJson(res, status, { ok: false, error: errorMessage(err) });
      return;
    }
    let update: unknown;
    try {
      update = JSON.parse(body.toString('utf8'));
    } catch {
      o.log.warn({ bytes: body.length }, 'telegram webhook body is not JSON; refused with 400');
      sendJson(res, 400, { ok: false, error: 'body is not JSON' });
      return;
    }
    if (updateIdOf(update) === undefined) {
      o.log.warn('telegram webhook body is not an update (no numeric update_id); refused with 400');
      sendJson(res, 400, { ok: false, error: 'not a Telegram update: update_id missing' });
      return;
    }
    try {
      await o.handle(update);
    } catch (err) {
      o.log.warn({ updateId: updateIdOf(update) }, `telegram update not accepted, Telegram will redeliver: ${errorMessage(err)}`);
      sendJson(res, 503, { ok: false, error: 'try again' });
      return;
    }
    sendJson(res, 200, { ok: true });
  };
}

/** Constant-time check of the secret-token header. */
export function secretMatches(header: string | string[] | undefined, secret: string): boolean {
  if (typeof header !== 'string' || header.length === 0 || secret.length === 0) return false;
  return safeEqual(header, secret);
}
