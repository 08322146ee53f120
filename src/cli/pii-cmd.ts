/**
 * `switchboard pii rotate [--batch N]` and `switchboard pii status`
 *
 * Rotation (docs/identity.md "Encryption at rest"): put the new key first in
 * `SWITCHBOARD_PII_KEYS` (`k2:<new>,k1:<old>`) on every process and restart them, then run
 * `pii rotate`: every value not under the first key (older keys, rows from before encryption) is
 * decrypted and sealed again, in batches, by compare-and-set. Run it again at will: a second run
 * finds nothing. Then the old key can leave the list. `pii status` counts what rotate would do.
 * Storage and the data folder come from hub.yaml (`SWITCHBOARD_CONFIG`, `DATABASE_URL` overrides).
 */
import { parseArgs } from 'node:util';
import { configPath } from '../config/load.js';
import { errorMessage } from '../core/errors.js';
import { Storage } from '../core/storage/storage.js';
import { loadConfigFile } from '../hub/config-schema.js';
import { hubPiiCodec } from '../hub/pii.js';
import type { CliIo } from './input.js';

export const PII_USAGE = `usage: switchboard pii rotate [--batch N]   re-encrypt every PII value not under the first key of SWITCHBOARD_PII_KEYS
       switchboard pii status                how many values are not under the first key`;

export async function piiCommand(argv: string[], io: CliIo = { out: process.stdout, err: process.stderr }, opts: { configFile?: string; env?: NodeJS.ProcessEnv } = {}): Promise<number> {
  const [sub, ...rest] = argv;
  let batch = 500;
  try {
    const { values } = parseArgs({ args: rest, options: { batch: { type: 'string' } }, allowPositionals: false });
    if (values.batch !== undefined) {
      if (!/^\d{1,6}$/.test(values.batch) || Number(values.batch) < 1) throw new Error(`--batch ${values.batch}: expected a number of rows (1 to 999999)`);
      batch = Number(values.batch);
    }
  } catch (err) {
    io.err.write(`${errorMessage(err)}\n${PII_USAGE}\n`);
    return 2;
  }
  if (sub !== 'rotate' && sub !== 'status') {
    io.err.write(`${sub === undefined ? 'pii: missing subcommand' : `pii ${sub}: unknown subcommand`}\n${PII_USAGE}\n`);
    return 2;
  }
  let storage: Storage;
  try {
    const cfg = loadConfigFile(opts.configFile ?? configPath());
    const pii = hubPiiCodec({ dataDir: cfg.dataDir, generate: false, ...(opts.env ? { env: opts.env } : {}) });
    storage = await Storage.open(cfg.storage.url, { pii, preparedStatements: cfg.storage.preparedStatements });
  } catch (err) {
    io.err.write(`pii ${sub}: ${errorMessage(err)}\n`);
    return 1;
  }
  try {
    if (sub === 'status') {
      const stale = await storage.pii.stale();
      const lines = Object.entries(stale).map(([col, n]) => `  ${col}: ${n}`);
      io.out.write(lines.length === 0 ? 'every PII value is under the current key\n' : `not under the current key:\n${lines.join('\n')}\n`);
      return 0;
    }
    const report = await storage.pii.rotate({ batch });
    const lines = Object.entries(report.resealed).map(([col, n]) => `  ${col}: ${n}`);
    io.out.write(lines.length === 0 ? 'nothing to re-encrypt: every PII value is under the current key\n' : `re-encrypted under the current key:\n${lines.join('\n')}\n`);
    if (report.hashed > 0) io.out.write(`lookup hashes filled: ${report.hashed}\n`);
    const left = await storage.pii.stale();
    if (Object.keys(left).length > 0) {
      io.err.write(`written meanwhile under another key (a process with older keys?), run again: ${JSON.stringify(left)}\n`);
      return 1;
    }
    return 0;
  } catch (err) {
    io.err.write(`pii ${sub}: ${errorMessage(err)}\n`);
    return 1;
  } finally {
    await storage.close();
  }
}
