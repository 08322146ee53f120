import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseConfigText, loadConfigFile } from '../../src/hub/config-schema.js';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configCheck, configSchemaJson, SCHEMA_FILE } from '../../src/cli/config-cmd.js';
import { HubError } from '../../src/core/errors.js';
import { z } from 'zod';
import { buildConfigSchema } from '../../src/config/schema.js';
import { createConfigLoader } from '../../src/config/load.js';

function errorOf(fn: () => unknown): HubError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof HubError, `expected HubError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected an error');
}

describe('config', () => {
  it('the shipped config/hub.yaml is valid and gives embedded defaults', () => {
    const cfg = loadConfigFile('config/hub.yaml', { env: {} });
    assert.equal(cfg.storage.url, 'sqlite:./data/switchboard.db');
    assert.equal(cfg.server.port, 3000);
    assert.equal(cfg.bot.maxStrikes, 3);
  });

  it('environment overrides: DATABASE_URL, REDIS_URL, PORT', () => {
    const cfg = parseConfigText('hub.yaml', 'server:\n  port: 3000\n', {
      env: { DATABASE_URL: 'postgres://x@h/db', REDIS_URL: 'redis://r:1', PORT: '8080' },
    });
    assert.equal(cfg.storage.url, 'postgres://x@h/db');
    assert.equal(cfg.redis.url, 'redis://r:1');
    assert.equal(cfg.server.port, 8080);
  });

  it('storage.preparedStatements: on by default, off when set false, a non-boolean named', () => {
    assert.equal(parseConfigText('hub.yaml', 'server:\n  port: 3000\n', { env: {} }).storage.preparedStatements, true);
    assert.equal(parseConfigText('hub.yaml', 'storage:\n  url: postgres://x@h/db\n  preparedStatements: false\n', { env: {} }).storage.preparedStatements, false);
    assert.throws(
      () => parseConfigText('hub.yaml', 'storage:\n  preparedStatements: maybe\n', { env: {} }),
      (err: Error) => /hub\.yaml/.test(err.message) && /storage\.preparedStatements/.test(err.message),
    );
  });

  it('a wrong type names file, line and field', () => {
    const text = 'server:\n  host: 0.0.0.0\n  port: "eighty"\n';
    const e = errorOf(() => parseConfigText('config/hub.yaml', text, { env: {} }));
    assert.equal(e.code, 'CONFIG_INVALID');
    assert.match(e.message, /config\/hub\.yaml:3: server\.port: /);
    assert.equal(e.context.line, 3);
    assert.equal(e.context.field, 'server.port');
  });

  it('an unknown field or channel is refused with the fix', () => {
    const e = errorOf(() => parseConfigText('hub.yaml', 'storage:\n  url: sqlite:x.db\n  urll: y\n', { env: {} }));
    assert.match(e.message, /hub\.yaml:3: storage: unknown field\(s\) urll: remove or fix the spelling/);
    const e2 = errorOf(() => parseConfigText('hub.yaml', 'channels:\n  fax:\n    enabled: true\n', { env: {} }));
    assert.match(e2.message, /channels: unknown field\(s\) fax/);
  });

  it('a YAML syntax error names the line', () => {
    const e = errorOf(() => parseConfigText('hub.yaml', 'server:\n  port: 1\n bad: [\n', { env: {} }));
    assert.match(e.message, /^hub\.yaml:\d+:\d+: YAML syntax error/);
  });

  it('secrets come from ${ENV}; a missing one names the variable and line', () => {
    const text = 'llm:\n  baseUrl: http://127.0.0.1:1/v1\n  model: qwen-plus\n  apiKey: ${LLM_KEY}\n';
    const ok = parseConfigText('hub.yaml', text, { env: { LLM_KEY: 'sk-test' } });
    assert.equal((ok.llm as { apiKey: string }).apiKey, 'sk-test');
    const e = errorOf(() => parseConfigText('hub.yaml', text, { env: {} }));
    assert.equal(e.code, 'CONFIG_MISSING_ENV');
    assert.match(e.message, /hub\.yaml:4: llm\.apiKey: environment variable LLM_KEY is not set/);
    const withDefault = parseConfigText('hub.yaml', 'redis:\n  url: ${R_URL:-redis://127.0.0.1:6380}\n', { env: {}, envOverrides: false });
    assert.equal(withDefault.redis.url, 'redis://127.0.0.1:6380');
  });

  it('the committed JSON Schema matches the zod schema (run `npx switchboard config schema`)', () => {
    assert.equal(readFileSync(SCHEMA_FILE, 'utf8'), configSchemaJson());
  });
});

describe('channel config', () => {
  it('an enabled channel with a missing token variable stops start-up naming the variable', () => {
    const text = 'channels:\n  telegram:\n    enabled: true\n    token: ${TELEGRAM_BOT_TOKEN}\n';
    const e = errorOf(() => parseConfigText('hub.yaml', text, { env: {} }));
    assert.equal(e.code, 'CONFIG_MISSING_ENV');
    assert.match(e.message, /hub\.yaml:4: channels\.telegram\.token: environment variable TELEGRAM_BOT_TOKEN is not set/);
    // A disabled channel does not need its secrets.
    const off = parseConfigText('hub.yaml', text.replace('enabled: true', 'enabled: false'), { env: {} });
    assert.equal((off.channels as { telegram?: { enabled: boolean } }).telegram?.enabled, false);
  });

  it('config check validates the knowledge files too: errors with file:line, warnings for shared questions', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cfg-check-'));
    try {
      const kdir = join(dir, 'knowledge');
      await mkdir(kdir);
      const hub = join(dir, 'hub.yaml');
      await writeFile(hub, `bot:\n  knowledgeDir: ${kdir}\n`);
      await writeFile(
        join(kdir, 'a.yaml'),
        'entries:\n  - id: refund\n    questions: [How do I get a refund?, refund please]\n    answer: Tap Refund.\n  - id: returns\n    questions: ["how do i get a REFUND", return an item]\n    answer: Send it back.\n',
      );
      const lines: string[] = [];
      const sink = { log: (s: string) => lines.push(s), error: (s: string) => lines.push(`ERR ${s}`) };
      assert.equal(await configCheck(hub, sink), 0);
      assert.match(lines[1] ?? '', /knowledge: ok \(2 entries in 1 files, 1 warnings\)/);
      assert.match(lines[2] ?? '', /^warning: .*a\.yaml:5: questions: "how do i get a REFUND" is also an example of "refund" \(.*a\.yaml:2\)$/);

      await writeFile(join(kdir, 'b.yaml'), 'entries:\n  - id: broken\n    questions: [hi]\n');
      lines.length = 0;
      assert.equal(await configCheck(hub, sink), 1);
      assert.match(lines.join('\n'), /ERR .*b\.yaml:2: entries\[0\]\.answer: required field is missing/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('config from parts (src/config is a leaf)', () => {
  const greeter = z.object({ enabled: z.boolean().default(false), token: z.string().min(4) }).strict();
  const schema = buildConfigSchema({
    modules: { greeter: greeter.optional() },
    channels: z.object({ fax: greeter.optional() }).strict().default({}),
  });
  const { parseConfigText: parse } = createConfigLoader(schema);

  it('module sections stand between queues and escalation; generic defaults still apply', () => {
    assert.deepEqual(Object.keys(schema.shape), [
      'logLevel', 'dataDir', 'server', 'api', 'storage', 'redis', 'queues', 'greeter', 'escalation', 'workflows', 'channels',
    ]);
    const cfg = parse('x.yaml', 'greeter:\n  enabled: true\n  token: abcd\n', { env: {} });
    assert.equal(cfg.greeter?.token, 'abcd');
    assert.equal(cfg.queues.partitions, 16);
  });

  it('a module field error names file, line and field', () => {
    const e = errorOf(() => parse('x.yaml', 'server:\n  port: 1\ngreeter:\n  token: ab\n', { env: {} }));
    assert.equal(e.code, 'CONFIG_INVALID');
    assert.match(e.message, /x\.yaml:4: greeter\.token: /);
    assert.deepEqual([e.context.line, e.context.field], [4, 'greeter.token']);
  });

  it('a section that is switched off or left out does not need its variables', () => {
    const text = 'greeter:\n  enabled: false\n  token: ${GREETER_TOKEN}\nchannels:\n  fax:\n    enabled: false\n    token: ${FAX_TOKEN}\n';
    assert.equal(parse('x.yaml', text, { env: {} }).greeter?.enabled, false);
    const e = errorOf(() => parse('x.yaml', text.replace('enabled: false', 'enabled: true'), { env: {} }));
    assert.equal(e.code, 'CONFIG_MISSING_ENV');
    assert.match(e.message, /x\.yaml:3: greeter\.token: environment variable GREETER_TOKEN is not set/);
  });

  it('a module cannot replace a generic section', () => {
    assert.throws(() => buildConfigSchema({ modules: { server: z.string() }, channels: z.object({}) }), /section server is defined twice/);
  });
});
