import type { FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';

/** Where the API's OpenAPI document is served (under the API prefix). */
export const OPENAPI_PATH = '/openapi.json';

/**
 * @fastify/swagger collecting the `/api` routes' schemas into an OpenAPI 3.1 document (register it
 * before any route). Routes outside `/api` (the web chat, channel webhooks, ops) and the generated
 * 405 answers are left out.
 */
export async function registerOpenApi(app: FastifyInstance, apiPrefix: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Switchboard API',
        version: '1',
        description: 'Proactive messages, customers and conversations, business events for the workflows, webhook deliveries. Every route takes `Authorization: Bearer <token>` (docs/api.md).',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: ({ schema, url, route }) => {
      const hidden = !url.startsWith(`${apiPrefix}/`) || url === `${apiPrefix}${OPENAPI_PATH}` || route.config?.methodNotAllowed === true;
      return { schema: hidden ? { ...schema, hide: true } : schema, url };
    },
  });
}
