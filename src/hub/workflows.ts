/**
 * Wires the workflow engine into the hub: loads the workflows folder at boot (`workflows.dir` of
 * hub.yaml; its default `config/workflows` is taken relative to the config folder), mounts
 * `/api/events` (roles start and gateway) and runs the step worker (roles start and worker). No
 * folder: no engine, and the events API knows no event type. A load error stops start-up naming
 * file, line and field. Workflows triggered by a conversation event subscribe to it (`workflows`).
 */
import { existsSync, watch, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { Clock } from '../core/clock.js';
import { errorMessage } from '../core/errors.js';
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
 * Hot reload: a change in the folder (or in the named templates) is loaded again after a short
 * quiet time; a version that loads takes effect for new runs (runs already started finish on
 * theirs), one that does not is logged with file, line and field and the last good one stays.
 */
export async function setupWorkflows(
  hub: WorkflowsHost,
): Promise<{ engine: WorkflowEngine | undefined; turnHandlers: TurnHandler[]; reload(): Promise<boolean>; start(): Promise<Worker[]>; close(): Promise<void> }> {
  const dir = workflowsDir(hub);
  let engine: WorkflowEngine | undefined;
  const turnHandlers: TurnHandler[] = [];
  const templatesFile = join(hub.opts.configDir ?? 'config', 'templates', 'messages.yaml');
  const log = hub.log.child({ module: 'workflows' });
  const watchers: FSWatcher[] = [];
  let timer: NodeJS.Timeout | undefined;
  const reload = async (): Promise<boolean> => {
    if (!engine) return false;
    try {
      const loaded = loadWorkflows(dir, { templatesFile });
      await engine.reload(loaded);
      log.info({ dir, workflows: loaded.workflows.length }, 'workflows reloaded: new runs start on this version, running runs finish on theirs');
      return true;
    } catch (err) {
      log.error({ dir, error: errorMessage(err) }, 'workflows reload failed; keeping the last good version');
      return false;
    }
  };
  if (existsSync(dir)) {
    const loaded = loadWorkflows(dir, { templatesFile });
    const cfg = hub.config;
    const e = new WorkflowEngine({
      loaded,
      repo: new WorkflowRepo(hub.storage),
      storage: hub.storage,
      sends: hub.sends,
      escalate: (conversationId, req) => escalateConversation(hub.changeDeps(), conversationId, req),
      redis: hub.redis,
      prefix: cfg.redis.prefix,
      log,
      lockMs: cfg.queues.lockMs,
      backoffMs: cfg.queues.backoffMs,
      sweepAfterMs: hub.opts.sweepAfterMs ?? 60_000,
      sendsPerSecond: cfg.workflows.sendsPerSecond,
      now: () => hub.clock.now(),
    });
    engine = e;
    hub.log.info({ dir, workflows: loaded.workflows.length }, 'workflows loaded');
    subscribeConversationTriggers(hub.subs, e);
    turnHandlers.push(optOut({ storage: hub.storage, words: () => e.versions.loaded.defaults.optOutWords, now: () => hub.clock.now() }));
    turnHandlers.push(askAnswers(e));
    const changed = (name: string | Buffer | null) => {
      if (name !== null && !/\.ya?ml$/i.test(String(name))) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        void reload();
      }, cfg.workflows.reloadDebounceMs);
    };
    for (const target of [dir, dirname(templatesFile)]) {
      if (!existsSync(target)) continue;
      const w = watch(target, (_event, name) => changed(name));
      w.on('error', (err) => log.warn({ dir: target, error: errorMessage(err) }, 'workflows watcher error'));
      watchers.push(w);
    }
  }
  if (hub.role !== 'worker') hub.router.api((app) => mountWorkflowApi(app, { auth: hub.tokenAuth, engine }));
  return {
    engine,
    turnHandlers,
    reload,
    start: async () => (engine && hub.role !== 'gateway' ? engine.start() : []),
    close: async () => {
      if (timer) clearTimeout(timer);
      for (const w of watchers) w.close();
      await engine?.close();
    },
  };
}
