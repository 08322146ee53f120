/**
 * `switchboard token create NAME --role ROLE`: a new token printed once with the hub.yaml line;
 * that line pasted into a hub.yaml read by the real config loader authenticates the token with
 * its roles. Bad names and roles are refused with exit code 2.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { createTokenAuth, hashToken } from '../../src/api/tokens.js';
import { tokenCommand } from '../../src/cli/token-cmd.js';
import { loadConfigFile } from '../../src/hub/config-schema.js';

const run = promisify(execFile);

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await tokenCommand(argv, { out: { write: (s: string) => out.push(s) }, err: { write: (s: string) => err.push(s) } });
  return { code, out: out.join(''), err: err.join('') };
}

/** The token (the one `sb_…` word) and the `- { name: … }` line of the output. */
function parseOutput(out: string): { token: string; line: string } {
  const tokens = out.match(/\bsb_[A-Za-z0-9_-]+/g) ?? [];
  assert.equal(tokens.length, 1, `the token is printed exactly once:\n${out}`);
  const line = out.split('\n').find((l) => /^\s*- \{ name: /.test(l));
  assert.ok(line, `no YAML line in:\n${out}`);
  return { token: tokens[0] ?? '', line: line.trim() };
}

describe('switchboard token create', () => {
  let dir: string | undefined;
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('prints a new token once and the line to paste; pasted into hub.yaml, the token authenticates with its roles', async () => {
    const crm = await cli('create', 'crm', '--role', 'events');
    assert.equal(crm.code, 0, crm.err);
    assert.equal(crm.err, '');
    const desk = await cli('create', 'helpdesk', '--role', 'agent', '--role', 'events');
    assert.equal(desk.code, 0, desk.err);
    const a = parseOutput(crm.out);
    const b = parseOutput(desk.out);
    assert.match(a.token, /^sb_[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(a.token.slice(3), 'base64url').length, 32);
    assert.notEqual(a.token, b.token);
    assert.match(crm.out, /shown only this once/);
    // The line holds the SHA-256, never the token.
    assert.equal(a.line, `- { name: crm, roles: [ events ], sha256: ${hashToken(a.token)} }`);
    assert.ok(!a.line.includes(a.token));

    dir = await mkdtemp(join(tmpdir(), 'sb-token-'));
    const file = join(dir, 'hub.yaml');
    await writeFile(file, `server:\n  port: 3000\napi:\n  tokens:\n    ${a.line}\n    ${b.line}\n`);
    const cfg = loadConfigFile(file, { env: {} });
    const auth = createTokenAuth(cfg.api.tokens);
    assert.deepEqual(auth.authenticate(`Bearer ${a.token}`), { name: 'crm', roles: ['events'] });
    assert.deepEqual(auth.authenticate(`bearer ${b.token}`), { name: 'helpdesk', roles: ['agent', 'events'] });
    assert.equal(auth.authorize(`Bearer ${a.token}`, 'events').ok, true);
    const refused = auth.authorize(`Bearer ${a.token}`, 'agent');
    assert.ok(!refused.ok && refused.status === 403);
    assert.equal(auth.authorize(`Bearer ${b.token}`, 'agent').ok, true);
    assert.equal(auth.authenticate(`Bearer ${a.token.slice(0, -1)}${a.token.endsWith('A') ? 'B' : 'A'}`), undefined);
  });

  it('the whole block it prints is valid hub.yaml', async () => {
    const r = await cli('create', 'ops', '--role', 'admin');
    assert.equal(r.code, 0, r.err);
    const block = r.out.slice(r.out.indexOf('api:\n'));
    dir ??= await mkdtemp(join(tmpdir(), 'sb-token-'));
    const file = join(dir, 'block.yaml');
    await writeFile(file, block);
    const { token } = parseOutput(r.out);
    assert.equal(createTokenAuth(loadConfigFile(file, { env: {} }).api.tokens).authenticate(`Bearer ${token}`)?.name, 'ops');
  });

  it('roles may be given comma-separated; a repeated role counts once', async () => {
    const r = await cli('create', 'both', '--role', 'agent,events', '--role', 'agent');
    assert.equal(r.code, 0, r.err);
    assert.match(parseOutput(r.out).line, /^- \{ name: both, roles: \[ agent, events \], sha256: [0-9a-f]{64} \}$/);
  });

  it('a name YAML would read as something else is quoted', async () => {
    const r = await cli('create', 'true', '--role', 'admin');
    assert.equal(r.code, 0, r.err);
    assert.match(parseOutput(r.out).line, /^- \{ name: "true", /);
  });

  it('refuses a bad name, an unknown or missing role, a missing name, an unknown option, with exit code 2', async () => {
    const cases: [string[], RegExp][] = [
      [['create', 'my crm', '--role', 'events'], /bad token name "my crm": it must start with a letter/],
      [['create', '9crm', '--role', 'events'], /bad token name "9crm"/],
      [['create', 'x'.repeat(65), '--role', 'events'], /bad token name/],
      [['create', 'crm', '--role', 'root'], /unknown role "root": the roles are admin, agent, events/],
      [['create', 'crm', '--role', 'events', '--role', 'Admin'], /unknown role "Admin"/],
      [['create', 'crm'], /give the token at least one --role \(admin, agent, events\)/],
      [['create', '--role', 'events'], /give the token a name/],
      [['create', 'crm', 'other', '--role', 'events'], /one name only/],
      [['create', 'crm', '--role', 'events', '--force'], /Unknown option '--force'/],
      [['create', 'crm', '--role'], /--role/],
      [['delete', 'crm'], /unknown token command: delete/],
      [[], /usage: switchboard token create NAME --role ROLE/],
    ];
    for (const [argv, message] of cases) {
      const r = await cli(...argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: exit ${r.code}`);
      assert.match(r.err, message, argv.join(' '));
      assert.equal(r.out, '', `${argv.join(' ')} printed a token`);
    }
  });

  it('npx switchboard token create: dispatched by the CLI, exit 0 with a token, exit 2 on a bad role', async () => {
    const ok = await run(process.execPath, ['bin/switchboard.mjs', 'token', 'create', 'crm', '--role', 'events']);
    assert.equal(parseOutput(ok.stdout).line.startsWith('- { name: crm, roles: [ events ], sha256: '), true);
    await assert.rejects(run(process.execPath, ['bin/switchboard.mjs', 'token', 'create', 'crm', '--role', 'root']), (err: { code?: number; stderr?: string }) => {
      assert.equal(err.code, 2);
      assert.match(err.stderr ?? '', /unknown role "root"/);
      return true;
    });
  });
});
