/** The API's role check and error answer, shared by every route file under /api. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isHubError } from '../core/errors.js';
import { authLogFields, type ApiCaller, type ApiRole, type TokenAuth } from './tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The API token of the call (set by the role check). */
    apiCaller?: ApiCaller;
  }
}

/** HubError codes as HTTP statuses; anything else is a 500. */
const STATUS: Partial<Record<string, number>> = { INPUT_INVALID: 400, NOT_FOUND: 404, CONFLICT: 409, RECIPIENT_UNREACHABLE: 422 };

/** The route's role check (an `onRequest` hook): 401 / 403 with `WWW-Authenticate`, logged with the token's name. */
export function requires(auth: TokenAuth, role: ApiRole) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const result = auth.authorize(request.headers.authorization, role);
    if (result.ok) {
      request.apiCaller = result.token;
      return;
    }
    request.log.warn({ ...authLogFields(result), route: `${request.method} ${request.routeOptions.url ?? request.url}` }, `api call refused: ${result.status}`);
    return reply.code(result.status).headers(result.headers).send({ error: result.error });
  };
}

/** Answers a HubError by its code (with the field it names), rethrows anything else (500). */
export function answerError(reply: FastifyReply, err: unknown): FastifyReply {
  const status = isHubError(err) ? STATUS[err.code] : undefined;
  if (!isHubError(err) || status === undefined) throw err;
  const field = typeof err.context.field === 'string' ? err.context.field : undefined;
  return reply.code(status).send({ error: err.message, code: err.code, ...(field ? { field } : {}) });
}

