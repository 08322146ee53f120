import { z } from 'zod';
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

/** The one list of channels: adding a channel is its folder plus one line here. */
export const adapterFactories: readonly AdapterFactory[] = [];

/** Agent desks; the first enabled one takes escalations. */
export const deskFactories: readonly DeskFactory[] = [];

export function findAdapterFactory(channel: string): AdapterFactory | undefined {
  return adapterFactories.find((f) => f.channel === channel);
}

/** `channels:` section of hub.yaml: one optional block per registered channel, nothing else. */
export function channelConfigSchemas() {
  const shape: Record<string, z.ZodOptional<z.ZodType>> = {};
  for (const f of [...adapterFactories, ...deskFactories]) shape[f.channel] = f.configSchema.optional();
  return z.object(shape).strict().default({});
}
