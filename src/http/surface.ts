import type { FastifyInstance } from 'fastify';
import { Router } from './router.js';

/** Routes of the hub's own modules, as Fastify routes (schemas, hooks, typed replies). Never for adapters. */
export type HubPlugin = (app: FastifyInstance) => void | Promise<void>;

/**
 * The hub's HTTP surface: what adapters register through the `HttpRoutes` port (raw handlers), and
 * what the hub's own modules register as Fastify routes: `plugin` at the root (ops: `/healthz`,
 * `/readyz`, `/metrics`), `api` under `/api` (JSON bodies validated by their schema, 400 naming
 * the field; JSON 404 / 405; the API rate limit per client IP, shared by every gateway).
 * `src/http/server.ts` serves it; see docs/core.md, "HTTP".
 */
export class HttpSurface extends Router {
  private readonly rootPlugins: HubPlugin[] = [];
  private readonly apiPlugins: HubPlugin[] = [];

  /** Fastify routes at the root (e.g. `app.get('/metrics', { preHandler }, handler)`). */
  plugin(p: HubPlugin): void {
    this.assertOpen('plugin');
    this.rootPlugins.push(p);
  }

  /**
   * Fastify routes under `/api`: `hub.router.api(async (api) => api.post('/messages', { schema }, handler))`
   * serves `POST /api/messages`. Bodies are JSON within `server.bodyLimit` (or the route's `bodyLimit`).
   */
  api(p: HubPlugin): void {
    this.assertOpen('api plugin');
    this.apiPlugins.push(p);
  }

  get plugins(): { root: readonly HubPlugin[]; api: readonly HubPlugin[] } {
    return { root: this.rootPlugins, api: this.apiPlugins };
  }
}
