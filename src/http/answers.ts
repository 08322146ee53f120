import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Methods a route may be asked for; one a path does not serve is answered 405 with `Allow`. */
const METHODS = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT'] as const;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route answering 405 for the methods its path does not serve. */
    methodNotAllowed?: boolean;
  }
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? '/';
}

/** Where a schema check failed, as a dotted path: `body.customer.identities.0.id`. */
export function failedField(err: FastifyError): string | undefined {
  const v = err.validation?.[0];
  if (!v) return undefined;
  const parts = v.instancePath.split('/').filter(Boolean);
  const { missingProperty, additionalProperty } = v.params as { missingProperty?: unknown; additionalProperty?: unknown };
  if (typeof missingProperty === 'string') parts.push(missingProperty);
  else if (typeof additionalProperty === 'string') parts.push(additionalProperty);
  return [err.validationContext ?? 'body', ...parts].join('.');
}

/**
 * Every error answer as JSON `{ error, code?, field? }`: a failed schema check 400 naming the field,
 * a body over the limit 413, a rate limit 429 (with Retry-After), anything unexpected 500 (logged,
 * never shown).
 */
export function jsonErrors(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const status = typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) request.log.error({ err }, `http ${request.method} ${pathOf(request)} failed: ${err.message}`);
    else request.log[status === 413 ? 'info' : 'debug'](`http ${request.method} ${pathOf(request)}: ${status} ${err.message}`);
    const field = failedField(err);
    const error =
      status >= 500
        ? 'internal error'
        : err.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
          ? `request body over the limit of ${request.routeOptions.bodyLimit} bytes`
          : err.message;
    return reply.code(status).send({ error, ...(err.code && status < 500 ? { code: err.code } : {}), ...(field ? { field } : {}) });
  });
  app.setNotFoundHandler(notFound);
}

export function notFound(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply.code(404).send({ error: `not found: ${request.method} ${pathOf(request)}` });
}

/**
 * Records every route's methods (call before any route is added); `answer405` then serves, on each
 * path, the methods it lacks with 405 and `Allow`. Request bodies there are not read.
 */
export function methodsByPath(app: FastifyInstance): { answer405(): Promise<void> } {
  const byUrl = new Map<string, Set<string>>();
  app.addHook('onRoute', (r) => {
    if (r.config?.methodNotAllowed) return;
    const set = byUrl.get(r.url) ?? new Set<string>();
    for (const m of Array.isArray(r.method) ? r.method : [r.method]) set.add(m);
    byUrl.set(r.url, set);
  });
  return {
    answer405: async () => {
      await app.register(async (tail) => {
        tail.removeAllContentTypeParsers();
        tail.addContentTypeParser('*', (_req, _payload, done) => done(null, undefined));
        for (const [url, have] of byUrl) {
          if (have.has('GET')) have.add('HEAD');
          const missing = METHODS.filter((m) => !have.has(m));
          if (missing.length === 0) continue;
          const allow = METHODS.filter((m) => have.has(m)).join(', ');
          tail.route({
            method: missing,
            url,
            exposeHeadRoute: false,
            config: { methodNotAllowed: true },
            handler: async (request, reply) =>
              reply.code(405).header('allow', allow).send({ error: `method ${request.method} not allowed on ${pathOf(request)} (allowed: ${allow})` }),
          });
        }
      });
    },
  };
}
