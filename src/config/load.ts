import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { z } from 'zod';
import { HubError } from '../core/errors.js';
import { substituteEnv, type MissingEnv } from './env.js';
import { YamlSource, formatPath } from './yaml-source.js';

export const DEFAULT_CONFIG_PATH = 'config/hub.yaml';

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  /** Apply DATABASE_URL / REDIS_URL / PORT overrides (default true). */
  envOverrides?: boolean;
}

/** Reads a config file against one schema (the hub's is assembled in `src/hub/config-schema.ts`). */
export interface ConfigLoader<T> {
  /** Reads, substitutes `${ENV}`, validates. Errors name file, line, field and the fix. */
  loadConfigFile(file: string, opts?: LoadOptions): T;
  parseConfigText(file: string, text: string, opts?: LoadOptions): T;
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.SWITCHBOARD_CONFIG ?? DEFAULT_CONFIG_PATH);
}

export function createConfigLoader<S extends z.ZodType>(schema: S): ConfigLoader<z.output<S>> {
  const parseConfigText = (file: string, text: string, opts: LoadOptions = {}): z.output<S> => {
    const env = opts.env ?? process.env;
    const src = new YamlSource(file, text);
    const raw = src.toJS();
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      throw new HubError('CONFIG_INVALID', `${file}:1: the file must be a mapping of sections (server, storage, …)`, {
        context: { file, line: 1 },
      });
    }
    const missing: MissingEnv[] = [];
    const substituted = substituteEnv(raw, env, missing) as Record<string, unknown>;
    if (opts.envOverrides !== false) applyEnvOverrides(substituted, env);

    const parsed = schema.safeParse(substituted);
    if (!parsed.success) {
      // A field invalid only because its variable is unset: say which variable.
      const unset = missing.find((m) => parsed.error.issues.some((i) => formatPath(i.path) === formatPath(m.path)));
      if (unset) throw missingEnvError(src, unset);
      throw configError(src, parsed.error);
    }
    const config = parsed.data;
    const relevant = missing.filter((m) => !switchedOff(m.path, config));
    if (relevant[0]) throw missingEnvError(src, relevant[0]);
    return config;
  };
  const loadConfigFile = (file: string, opts: LoadOptions = {}): z.output<S> => {
    if (!existsSync(file)) {
      throw new HubError('CONFIG_INVALID', `${file}: config file not found (set SWITCHBOARD_CONFIG or create it)`, {
        context: { file },
      });
    }
    return parseConfigText(file, readFileSync(file, 'utf8'), opts);
  };
  return { loadConfigFile, parseConfigText };
}

function missingEnvError(src: YamlSource, m: MissingEnv): HubError {
  const line = src.lineOf(m.path);
  const field = formatPath(m.path);
  return new HubError(
    'CONFIG_MISSING_ENV',
    `${src.file}:${line}: ${field}: environment variable ${m.variable} is not set (export ${m.variable}=… or disable that section)`,
    { context: { file: src.file, line, field, variable: m.variable } },
  );
}

function applyEnvOverrides(cfg: Record<string, unknown>, env: NodeJS.ProcessEnv): void {
  const section = (name: string): Record<string, unknown> => {
    const s = cfg[name];
    if (s && typeof s === 'object' && !Array.isArray(s)) return s as Record<string, unknown>;
    const fresh: Record<string, unknown> = {};
    cfg[name] = fresh;
    return fresh;
  };
  if (env.DATABASE_URL) section('storage').url = env.DATABASE_URL;
  if (env.REDIS_URL) section('redis').url = env.REDIS_URL;
  if (env.PORT) section('server').port = Number(env.PORT);
}

/**
 * An unset variable matters only where the validated config uses it: not under a section that is
 * left out (no `llm:`) or switched off (`enabled: false`, as every channel has).
 */
function switchedOff(path: readonly PropertyKey[], config: unknown): boolean {
  let node = config;
  for (const key of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return false;
    node = (node as Record<PropertyKey, unknown>)[key];
    if (node === undefined) return true;
    if (node !== null && typeof node === 'object' && (node as { enabled?: unknown }).enabled === false) return true;
  }
  return false;
}

function configError(src: YamlSource, error: z.ZodError): HubError {
  const lines = error.issues.slice(0, 5).map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      const at = [...issue.path, issue.keys[0] ?? ''];
      return `${src.file}:${src.lineOf(at)}: ${formatPath(issue.path)}: unknown field(s) ${issue.keys.join(', ')}: remove or fix the spelling`;
    }
    return `${src.file}:${src.lineOf(issue.path)}: ${formatPath(issue.path)}: ${issue.message}`;
  });
  const firstIssue = error.issues[0];
  return new HubError('CONFIG_INVALID', `invalid config\n  ${lines.join('\n  ')}`, {
    context: {
      file: src.file,
      line: firstIssue ? src.lineOf(firstIssue.path) : 1,
      field: firstIssue ? formatPath(firstIssue.path) : '',
    },
  });
}
