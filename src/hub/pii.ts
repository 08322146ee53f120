/**
 * The PII keys of a hub process (docs/identity.md "Encryption at rest"): from the environment
 * (`SWITCHBOARD_PII_KEYS`, `SWITCHBOARD_PII_HASH_KEY`), else generated once into
 * `<dataDir>/pii-keys` (0600) so `npm start` on the embedded defaults works, with a warning that
 * production should set the environment. Every process of one database must have the same keys:
 * the storage refuses at open a hash key or a current key other than the database's
 * (`PiiRepo.checkKeys`), so two hosts that each generated a file never write under two keys.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { HubError, errorMessage } from '../core/errors.js';
import { ensurePrivateDir, tightenFile } from '../core/private-files.js';
import { createPiiCodec, decodeSecret, newSecret, parsePiiKeys, type PiiCodec } from '../core/storage/pii.js';

export const PII_KEYS_ENV = 'SWITCHBOARD_PII_KEYS';
export const PII_HASH_KEY_ENV = 'SWITCHBOARD_PII_HASH_KEY';
export const PII_KEY_FILE = 'pii-keys';

interface KeyFile {
  keys: string;
  hashKey: string;
}

interface Logger {
  warn(obj: object, msg: string): void;
}

/**
 * The codec for this process. `generate: false` (the CLI) reads an existing key file but never
 * makes one: rotating under a key no hub has would lock the hubs out.
 */
export function hubPiiCodec(opts: { dataDir: string; env?: NodeJS.ProcessEnv; log?: Logger; generate?: boolean }): PiiCodec {
  const env = opts.env ?? process.env;
  const keys = env[PII_KEYS_ENV]?.trim();
  const hash = env[PII_HASH_KEY_ENV]?.trim();
  if (keys || hash) {
    if (!keys) throw new HubError('CONFIG_MISSING_ENV', `${PII_HASH_KEY_ENV} is set but ${PII_KEYS_ENV} is not: set both (docs/configuration.md)`);
    if (!hash) throw new HubError('CONFIG_MISSING_ENV', `${PII_KEYS_ENV} is set but ${PII_HASH_KEY_ENV} is not: set both (the lookup hash key never rotates; docs/configuration.md)`);
    return codecOf({ keys, hashKey: hash }, 'the environment');
  }
  const file = join(opts.dataDir, PII_KEY_FILE);
  const stored = readKeyFile(file);
  if (stored) return codecOf(stored, file);
  if (opts.generate === false) {
    throw new HubError('CONFIG_MISSING_ENV', `no PII keys: set ${PII_KEYS_ENV} and ${PII_HASH_KEY_ENV} as the hub has them (or run where ${file} is)`);
  }
  ensurePrivateDir(opts.dataDir);
  const fresh: KeyFile = { keys: `g${randomBytes(4).toString('hex')}:${newSecret()}`, hashKey: newSecret() };
  try {
    // `wx`: when two processes race on first start, one wins and both read its keys.
    writeFileSync(file, `${JSON.stringify(fresh, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    opts.log?.warn({ file }, `PII keys generated into ${file} (keep it, back it up: without it the stored names and messages cannot be read); in production set ${PII_KEYS_ENV} and ${PII_HASH_KEY_ENV} instead`);
    return codecOf(fresh, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const raced = readKeyFile(file);
    if (!raced) throw new HubError('CONFIG_INVALID', `${file}: empty PII key file`);
    return codecOf(raced, file);
  }
}

function readKeyFile(file: string): KeyFile | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  tightenFile(file);
  try {
    const v = JSON.parse(text) as Partial<KeyFile>;
    if (typeof v.keys === 'string' && typeof v.hashKey === 'string') return { keys: v.keys, hashKey: v.hashKey };
  } catch {
    // falls through to the error below
  }
  throw new HubError('CONFIG_INVALID', `${file}: not a PII key file (JSON with "keys" and "hashKey"); restore it from a backup or set ${PII_KEYS_ENV} and ${PII_HASH_KEY_ENV}`);
}

function codecOf(k: KeyFile, where: string): PiiCodec {
  try {
    return createPiiCodec({ keys: parsePiiKeys(k.keys), hashSecret: decodeSecret(k.hashKey) });
  } catch (err) {
    throw new HubError('CONFIG_INVALID', `PII keys from ${where}: ${errorMessage(err)}`, { cause: err });
  }
}
