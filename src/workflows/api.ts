/**
 * The events API (docs/api.md): `POST /api/events` takes a business event for the workflows
 * (202 `{ id, runs }`; the same Idempotency-Key again -> 200 with the same answer, nothing new
 * started) and `GET /api/events/:id` shows the runs it started and each step's state. Both need a
 * token with the `events` role. Registered in the `/api` scope by the hub (`mountWorkflowApi`).
 */
import type { FastifyInstance } from 'fastify';
import { answerError, requires } from '../api/routes.js';
import type { TokenAuth } from '../api/tokens.js';
import type { RunRecord, StepRecord, WorkflowEventRecord } from './storage/repo.js';
import type { WorkflowEngine } from './engine.js';
import * as s from './api-schemas.js';

export interface WorkflowApiDeps {
  auth: TokenAuth;
  /** The engine; undefined when the hub has no workflows folder (every event type is then unknown). */
  engine: WorkflowEngine | undefined;
}

const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;
const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

const runSummary = (r: RunRecord) => ({ id: r.id, workflow: r.workflow, version: r.version, status: r.status, ...(r.error ? { error: r.error } : {}) });

function stepView(s: StepRecord & { action: string }) {
  return {
    id: s.stepId,
    action: s.action,
    status: s.status,
    dueAt: iso(s.dueAt),
    ...(s.result ? { result: s.result } : {}),
    ...(s.error ? { error: s.error } : {}),
    updatedAt: iso(s.updatedAt),
  };
}

function eventView(e: WorkflowEventRecord) {
  return { id: e.id, type: e.type, customerId: e.customerId, correlationValue: e.correlationValue, data: e.data, createdAt: iso(e.createdAt) };
}

export async function mountWorkflowApi(app: FastifyInstance, d: WorkflowApiDeps): Promise<void> {
  const onRequest = requires(d.auth, 'events');
  // The body is documented by its schema and checked by the engine (the event type's data schema, which a reload may change).
  const anyBody = () => () => true;

  app.post<{ Headers: { 'idempotency-key'?: string } }>('/events', { onRequest, schema: s.postEvent, validatorCompiler: anyBody }, async (request, reply) => {
    try {
      const given = request.headers['idempotency-key'];
      if (given !== undefined && !IDEMPOTENCY_KEY.test(given)) {
        return reply.code(400).send({ error: 'Idempotency-Key must be 1 to 255 visible ASCII characters', code: 'INPUT_INVALID', field: 'headers.idempotency-key' });
      }
      if (!d.engine) {
        return reply.code(400).send({ error: 'this hub has no workflows (config/workflows): no event type is known', code: 'INPUT_INVALID', field: 'body.type' });
      }
      const { event, runs, duplicate } = await d.engine.accept(request.body, given);
      return reply.code(duplicate ? 200 : 202).send({ id: event.id, runs: runs.map((r) => ({ id: r.id, workflow: r.workflow })) });
    } catch (err) {
      return answerError(reply, err);
    }
  });

  app.get<{ Params: { id: string } }>('/events/:id', { onRequest, schema: s.getEvent }, async (request, reply) => {
    const view = await d.engine?.view(request.params.id);
    if (!view) return reply.code(404).send({ error: `no event ${request.params.id}`, code: 'NOT_FOUND' });
    return { ...eventView(view.event), runs: view.runs.map(({ run, steps }) => ({ ...runSummary(run), createdAt: iso(run.createdAt), updatedAt: iso(run.updatedAt), steps: steps.map(stepView) })) };
  });
}
