/**
 * Wires the web console (src/console) into the hub: its session key from the database (shared by
 * every process, kept across restarts), the desk context the Slack desk also gets (suggestions,
 * summaries, pending answers, agent actions), the live-update subscriber (every process: a worker
 * handles the events) and, when the hub serves HTTP, its routes. Returns the guard other console
 * pages use (analytics, queues): `hub.console.guard(request, reply, 'admin')`.
 */
import type { Logger } from 'pino';
import type { ChannelAdapter } from '../core/adapter.js';
import type { Clock } from '../core/clock.js';
import type { AgentDesk } from '../core/desk.js';
import type { EventSubscriptions } from '../core/events.js';
import type { Responder } from '../core/responder.js';
import type { Storage } from '../core/storage/storage.js';
import type { AgentActions } from '../core/conversation/agent-actions.js';
import type { Proactive } from '../core/conversation/proactive.js';
import type { HubQueues } from '../core/queues/hub-queues.js';
import type { Templates } from '../core/templates.js';
import type { HttpSurface } from '../http/surface.js';
import type { TokenAuth } from '../api/tokens.js';
import { createConsole, loadConsoleKeys, subscribeLive, type ConsoleGuard } from '../console/index.js';
import type { HubConfig } from './config-schema.js';
import type { Workflow } from '../workflows/types.js';
import type { RedisBus } from './bus.js';
import { deskContext } from './contexts.js';

/** What the wiring takes of the hub (the Hub itself, without importing it: no cycle). */
export interface ConsoleHost {
  readonly config: HubConfig;
  readonly role: 'start' | 'worker' | 'gateway';
  readonly storage: Storage;
  readonly router: HttpSurface;
  readonly tokenAuth: TokenAuth;
  readonly bus: RedisBus;
  readonly subs: EventSubscriptions;
  readonly log: Logger;
  readonly clock: Clock;
  readonly adapters: ReadonlyMap<string, ChannelAdapter>;
  readonly desk: AgentDesk | undefined;
  readonly agentActions: AgentActions;
  readonly proactive: Proactive;
  readonly templates: Templates;
  readonly queues: HubQueues;
  readonly responder: Responder;
  /** The workflows loaded now (the settings read-out). */
  readonly workflows: { readonly engine: { readonly versions: { workflows(): Workflow[] } } | undefined } | undefined;
}

/** A workflow's trigger in words, for the settings read-out. */
function triggerText(w: Workflow): string {
  const t = w.trigger;
  return t.kind === 'event' ? `event ${t.event}` : t.kind === 'schedule' ? `cron "${t.cron}" (${t.timezone})` : `conversation ${t.event}`;
}

export async function setupConsole(hub: ConsoleHost): Promise<{ guard: ConsoleGuard; close(): void }> {
  const desk = deskContext('console', {
    http: hub.router,
    log: hub.log,
    storage: hub.storage,
    actions: hub.agentActions,
    proactive: hub.proactive,
    templates: hub.templates,
    queues: hub.queues,
    responder: () => hub.responder,
    knowledgeDir: hub.config.bot.knowledgeDir,
    now: () => hub.clock.now(),
  });
  // With no other desk the console is the desk: it tells a waiting customer a person will answer.
  subscribeLive(hub.subs, { bus: hub.bus, desk, onlyDesk: hub.desk === undefined });
  const keys = await loadConsoleKeys(hub.storage.channelState);
  const tokens = new Map(hub.config.api.tokens.map((t) => [t.name, t.roles] as const));
  const web = createConsole({
    auth: hub.tokenAuth,
    roles: (name) => tokens.get(name),
    keys,
    desk,
    bus: hub.bus,
    channels: () => [...hub.adapters.keys()],
    now: () => hub.clock.now(),
    settings: {
      config: () => hub.config,
      runtime: () => ({
        channels: [...hub.adapters.values()].map((a) => ({ name: a.channel, connection: a.connection, capabilities: { ...a.capabilities } })),
        desk: hub.desk ? `${hub.desk.name} (and this console)` : 'this console (no other desk configured)',
        workflows: (hub.workflows?.engine?.versions.workflows() ?? []).map((w) => ({ name: w.name, trigger: triggerText(w) })),
      }),
    },
  });
  if (hub.role !== 'worker') hub.router.plugin((app) => web.plugin(app));
  return { guard: web.guard, close: () => web.close() };
}
