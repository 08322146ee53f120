/**
 * `switchboard token create NAME --role ROLE [--role ROLE]`: makes a new API token (`sb_` + 32
 * random bytes, base64url), prints it once, and prints the hub.yaml line to paste under
 * `api.tokens`, which holds only the token's SHA-256. Nothing is written anywhere: the token exists
 * only in this output. A bad name or role is refused with exit code 2.
 */
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { generateToken, hashToken } from '../api/tokens.js';
import { API_ROLES, API_TOKEN_NAME, type ApiRole } from '../config/schema.js';
import { errorMessage } from '../core/errors.js';
import type { CliIo } from './input.js';

export const TOKEN_USAGE = `usage: switchboard token create NAME --role ROLE [--role ROLE]
  NAME   shown in logs instead of the token: a letter, then letters, digits, _ . - (at most 64)
  ROLE   admin (everything, /metrics included), agent (reads customers and conversations),
         events (sends messages)`;

class UsageError extends Error {}

export async function tokenCommand(argv: string[], io: CliIo = { out: process.stdout, err: process.stderr }): Promise<number> {
  try {
    io.out.write(create(argv));
    return 0;
  } catch (err) {
    io.err.write(`${errorMessage(err)}\n`);
    return err instanceof UsageError ? 2 : 1;
  }
}

function create(argv: string[]): string {
  const [sub, ...rest] = argv;
  if (sub !== 'create') throw new UsageError(sub === undefined ? TOKEN_USAGE : `unknown token command: ${sub}\n${TOKEN_USAGE}`);
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: { role: { type: 'string', multiple: true } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${errorMessage(err)}\n${TOKEN_USAGE}`);
  }
  const [name, ...extra] = parsed.positionals;
  if (name === undefined) throw new UsageError(`give the token a name\n${TOKEN_USAGE}`);
  if (extra.length > 0) throw new UsageError(`one name only (got also: ${extra.join(' ')})\n${TOKEN_USAGE}`);
  if (!API_TOKEN_NAME.test(name)) {
    throw new UsageError(`bad token name "${name}": it must start with a letter and hold only letters, digits, _ . - (at most 64)`);
  }
  const given = (parsed.values.role ?? []).flatMap((r) => r.split(',')).map((r) => r.trim());
  if (given.length === 0) throw new UsageError(`give the token at least one --role (${API_ROLES.join(', ')})\n${TOKEN_USAGE}`);
  const unknown = given.filter((r) => !(API_ROLES as readonly string[]).includes(r));
  if (unknown.length > 0) throw new UsageError(`unknown role ${unknown.map((r) => `"${r}"`).join(', ')}: the roles are ${API_ROLES.join(', ')}`);
  const roles = [...new Set(given)] as ApiRole[];

  const token = generateToken();
  const line = stringify({ name, roles, sha256: hashToken(token) }, { collectionStyle: 'flow', lineWidth: 0 }).trim();
  return [
    `New API token "${name}" (roles: ${roles.join(', ')}). It is shown only this once: give it to the client now`,
    `(it sends "Authorization: Bearer <token>"); the hub keeps only its SHA-256.`,
    '',
    `  ${token}`,
    '',
    'Add it to config/hub.yaml (when api.tokens is there already, only the last line), then restart the hub:',
    '',
    'api:',
    '  tokens:',
    `    - ${line}`,
    '',
  ].join('\n');
}
