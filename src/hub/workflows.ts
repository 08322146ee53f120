/**
 * Wires the workflow engine into the hub: loads the workflows folder at boot (`workflows.dir` of
 * hub.yaml; its default `config/workflows` is taken relative to the config folder), mounts
 * `/api/events` (roles start and gateway) and runs the step worker (roles start and worker). No
 * folder: no engine, and the events API knows no event type. A load error stops start-up naming
 * file, line and field. Workflows triggered by a conversation event subscribe to it (`workflows`).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { Clock } from '../core/clock.js';
import type { EventSubscriptions } from '../core/events.js';
import type { ChangeDeps } from '../core/conversation/change.js';
import { escalateConversation } from '../core/conversation/escalate.js';
import type { FallbackSends } from '../core/conversation/fallback.js';
import type { TurnHandler } from '../core/conversation/turn.js';
import type { Storage } from '../core/storage/storage.js';
import type { HttpSurface } from '../http/surface.js';
import type { TokenAuth } from '../api/tokens.js';
import type { HubConfig } from './config-schema.js';
import { askAnswers } from '../workflows/answers.js';
import { WorkflowEngine } from '../workflows/engine.js';
import { mountWorkflowApi } from '../workflows/api.js';
import { DEFAULT_WORKFLOWS_DIR, loadWorkflows } from '../workflows/load.js';
import { optOut } from '../workflows/opt-out.js';
import { WorkflowRepo } from '../workflows/storage/repo.js';
import { subscribeConversationTriggers } from '../workflows/triggers.js';

/** What the wiring takes of the hub (the Hub itself, without importing it: no cycle). */
export interface WorkflowsHost {
  readonly config: HubConfig;
  readonly opts: { readonly configDir?: string | undefined; readonly sweepAfterMs?: number | undefined };
  readonly role: 'start' | 'worker' | 'gateway';
  readonly storage: Storage;
  readonly sends: FallbackSends;
  readonly redis: Redis;
  readonly log: Logger;
  readonly clock: Clock;
  readonly router: HttpSurface;
  readonly tokenAuth: TokenAuth;
  /** The core's event subscribers: conversation-event triggers register here. */
  readonly subs: EventSubscriptions;
  changeDeps(): ChangeDeps;
}

/** The workflows folder of this hub. */
export function workflowsDir(hub: WorkflowsHost): string {
  const dir = hub.config.workflows.dir;
  const configDir = hub.opts.configDir;
  return dir === DEFAULT_WORKFLOWS_DIR && configDir !== undefined ? join(configDir, 'workflows') : dir;
}

/**
 * The engine (undefined without a workflows folder), its API mounted when the hub serves HTTP, and
 * its turn handlers for the core's chain before the bot: the opt-out words, then answers to asks.
 */
export async function setupWorkflows(
  hub: WorkflowsHost,
): Promise<{ engine: WorkflowEngine | undefined; turnHandlers: TurnHandler[]; start(): Promise<Worker[]>; close(): Promise<void> }> {
  const dir = workflowsDir(hub);
  let engine: WorkflowEngine | undefined;
  const turnHandlers: TurnHandler[] = [];
  if (existsSync(dir)) {
    const loaded = loadWorkflows(dir, { templatesFile: join(hub.opts.configDir ?? 'config', 'templates', 'messages.yaml') });
    const cfg = hub.config;
    engine = new WorkflowEngine({
      loaded,
      repo: new WorkflowRepo(hub.storage),
      storage: hub.storage,
      sends: hub.sends,
      escalate: (conversationId, req) => escalateConversation(hub.changeDeps(), conversationId, req),
      redis: hub.redis,
      prefix: cfg.redis.prefix,
      log: hub.log.child({ module: 'workflows' }),
      lockMs: cfg.queues.lockMs,
      backoffMs: cfg.queues.backoffMs,
      sweepAfterMs: hub.opts.sweepAfterMs ?? 60_000,
      now: () => hub.clock.now(),
    });
    hub.log.info({ dir, workflows: loaded.workflows.length }, 'workflows loaded');
    subscribeConversationTriggers(hub.subs, engine);
    turnHandlers.push(optOut({ storage: hub.storage, words: loaded.defaults.optOutWords, now: () => hub.clock.now() }));
    // No workflow asks anything: no query per customer message for answers.
    if (loaded.workflows.some((w) => [...w.stepsById.values()].some((s) => s.action === 'ask'))) turnHandlers.push(askAnswers(engine));
  }
  if (hub.role !== 'worker') hub.router.api((app) => mountWorkflowApi(app, { auth: hub.tokenAuth, engine }));
  return {
    engine,
    turnHandlers,
    start: async () => (engine && hub.role !== 'gateway' ? engine.start() : []),
    close: async () => engine?.close(),
  };
}
