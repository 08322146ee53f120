import type { WechatyOptions } from 'wechaty';
import { HubError, errorMessage } from '../../core/errors.js';

/** A wechaty puppet instance (what `WechatyBuilder.build({ puppet })` takes). */
export type WechatyPuppet = Exclude<NonNullable<WechatyOptions['puppet']>, string>;

/** Puppets that cannot start without a token, and the variable their token usually comes from. */
export const TOKEN_PUPPETS: Readonly<Record<string, string>> = {
  'wechaty-puppet-service': 'WECHATY_PUPPET_SERVICE_TOKEN',
  'wechaty-puppet-padlocal': 'WECHATY_PUPPET_PADLOCAL_TOKEN',
};

/**
 * Start-up check: a token puppet without a token stops the hub with the variable to set. The puppet
 * reads its own variable too, so that one counts as configured.
 */
export function checkPuppetToken(puppet: string, token: string | undefined, env: NodeJS.ProcessEnv = process.env): void {
  const variable = TOKEN_PUPPETS[puppet];
  if (!variable || (token && token.length > 0) || (env[variable] ?? '').length > 0) return;
  throw new HubError(
    'CONFIG_MISSING_ENV',
    `channels.wechat.puppetToken: the puppet ${puppet} needs a token: set puppetToken: \${${variable}} in hub.yaml and export ${variable}=… (or disable channels.wechat)`,
    { context: { field: 'channels.wechat.puppetToken', variable } },
  );
}

export function isPuppet(x: unknown): x is WechatyPuppet {
  if (typeof x !== 'object' || x === null) return false;
  const p = x as { start?: unknown; stop?: unknown; on?: unknown; setMemory?: unknown };
  return typeof p.start === 'function' && typeof p.stop === 'function' && typeof p.on === 'function' && typeof p.setMemory === 'function';
}

type PuppetConstructor = new (options: { token?: string }) => unknown;

function isConstructor(x: unknown): x is PuppetConstructor {
  return typeof x === 'function' && typeof (x as { prototype?: unknown }).prototype === 'object';
}

export type ModuleImporter = (name: string) => Promise<unknown>;

export const defaultImporter: ModuleImporter = (name) => import(name);

/**
 * Loads a puppet package by name (`wechaty-puppet-wechat4u`, `wechaty-puppet-service`...) and builds
 * it. A package that is not installed or exports no puppet is a config error naming the fix.
 */
export async function loadPuppet(name: string, token: string | undefined, importer: ModuleImporter = defaultImporter): Promise<WechatyPuppet> {
  if (!/^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i.test(name)) {
    throw new HubError('CONFIG_INVALID', `channels.wechat.puppet: "${name}" is not a package name`, { context: { puppet: name } });
  }
  let mod: unknown;
  try {
    mod = await importer(name);
  } catch (err) {
    const missing = /Cannot find (package|module)|ERR_MODULE_NOT_FOUND/i.test(errorMessage(err));
    throw new HubError(
      'CONFIG_INVALID',
      missing
        ? `channels.wechat.puppet: puppet package ${name} is not installed (npm install ${name})`
        : `channels.wechat.puppet: puppet package ${name} failed to load: ${errorMessage(err)}`,
      { cause: err, context: { puppet: name } },
    );
  }
  const ctor = findPuppetClass(mod);
  if (!ctor) {
    throw new HubError('CONFIG_INVALID', `channels.wechat.puppet: package ${name} exports no puppet class`, { context: { puppet: name } });
  }
  let instance: unknown;
  try {
    instance = new ctor(token ? { token } : {});
  } catch (err) {
    throw new HubError('CONFIG_INVALID', `channels.wechat.puppet: cannot create puppet ${name}: ${errorMessage(err)}`, {
      cause: err,
      context: { puppet: name },
    });
  }
  if (!isPuppet(instance)) {
    throw new HubError('CONFIG_INVALID', `channels.wechat.puppet: ${name} did not build a wechaty puppet`, { context: { puppet: name } });
  }
  return instance;
}

function findPuppetClass(mod: unknown): PuppetConstructor | undefined {
  if (typeof mod !== 'object' || mod === null) return undefined;
  const exports = mod as Record<string, unknown>;
  if (isConstructor(exports.default)) return exports.default;
  for (const [key, value] of Object.entries(exports)) {
    if (key.startsWith('Puppet') && isConstructor(value)) return value;
  }
  return undefined;
}
