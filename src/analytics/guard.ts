/**
 * Who may see analytics: a guard the hub injects (the console's cookie-or-bearer guard, or the
 * default below). It answers true when the request may go on; otherwise it has replied already.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { authLogFields, type TokenAuth } from '../api/tokens.js';

export type GuardRole = 'agent' | 'admin';
export type Guard = (request: FastifyRequest, reply: FastifyReply, role: GuardRole) => Promise<boolean>;

/** The default guard: an API bearer token with the role (`api.tokens`); 401 without one, 403 with too small a role. */
export function bearerGuard(auth: TokenAuth): Guard {
  return async (request, reply, role) => {
    const r = auth.authorize(request.headers.authorization, role);
    if (r.ok) return true;
    request.log.warn({ ...authLogFields(r), route: `${request.method} ${request.url.split('?')[0]}` }, `analytics refused: ${r.status}`);
    await reply.code(r.status).headers(r.headers).send({ error: r.error });
    return false;
  };
}
