import type { z } from 'zod';
import type { Logger } from 'pino';
import type { ChannelAdapter } from '../core/adapter.js';
import type { AgentDesk } from '../core/desk.js';

export interface AdapterDeps {
  log: Logger;
  /** Where an adapter may keep files (sessions, caches). */
  dataDir: string;
  /** Public base URL of the hub, when configured (webhook registration). */
  publicUrl?: string;
}

/** Every channel's config section has at least `enabled`. */
export interface ChannelConfigBase {
  enabled: boolean;
}

export interface AdapterFactory<C extends ChannelConfigBase = ChannelConfigBase> {
  channel: string;
  configSchema: z.ZodType<C>;
  create(config: C, deps: AdapterDeps): ChannelAdapter;
}

/** Widens a typed factory for the registry list (its create then takes the parsed config). */
export function defineAdapter<C extends ChannelConfigBase>(f: AdapterFactory<C>): AdapterFactory {
  return f as unknown as AdapterFactory;
}

/** An agent desk (Slack) configured in the same `channels:` section. */
export interface DeskFactory<C extends ChannelConfigBase = ChannelConfigBase> {
  channel: string;
  configSchema: z.ZodType<C>;
  create(config: C, deps: AdapterDeps): AgentDesk;
}

export function defineDesk<C extends ChannelConfigBase>(f: DeskFactory<C>): DeskFactory {
  return f as unknown as DeskFactory;
}
