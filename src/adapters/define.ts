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

/** Builds one channel's part (an adapter or a desk) from its `channels.<name>` section. */
export interface ChannelFactory<T, C extends ChannelConfigBase = ChannelConfigBase> {
  channel: string;
  configSchema: z.ZodType<C>;
  /**
   * Builds the part. Asynchronous so that a channel loads its platform SDK (grammY, bolt, wechaty,
   * imapflow…) only when it is enabled: the registry imports every channel's `index.ts`, which keeps
   * to its config schema and imports the rest here.
   */
  create(config: C, deps: AdapterDeps): T | Promise<T>;
  /**
   * `switchboard config check`: reach the platform with this config (log in, find the mailbox…) and
   * resolve to lines to print, or throw a HubError naming the field and the fix. Optional.
   */
  check?(config: C): Promise<string[]>;
  /**
   * Whether an enabled section also wants this factory's part (default: yes). Slack's customer side
   * is built only when `channels.slack.customers` is there, so a desk-only hub lists no `slack` channel.
   */
  wanted?(config: C): boolean;
}

export type AdapterFactory<C extends ChannelConfigBase = ChannelConfigBase> = ChannelFactory<ChannelAdapter, C>;

/** An agent desk (Slack) configured in the same `channels:` section. */
export type DeskFactory<C extends ChannelConfigBase = ChannelConfigBase> = ChannelFactory<AgentDesk, C>;

/** Widens a typed factory for the registry list (its create then takes the parsed config). */
export function defineAdapter<C extends ChannelConfigBase>(f: AdapterFactory<C>): AdapterFactory {
  return f as unknown as AdapterFactory;
}

export function defineDesk<C extends ChannelConfigBase>(f: DeskFactory<C>): DeskFactory {
  return f as unknown as DeskFactory;
}
