import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, logFormat } from '../../src/hub/logger.js';
import { Hub } from '../../src/hub/hub.js';
import { hubConfigSchema } from '../../src/hub/config-schema.js';
import { HubError } from '../../src/core/errors.js';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { cleanRedis, until } from '../helpers/hub.js';
import { REDIS_URL, sqliteDb, uniqueName } from '../helpers/env.js';
import { startFakeSlack } from '../fakes/slack-api.js';
import { CASES, HumanResponder, SECRET, postSlack, eventBody, slackTs } from '../slack/helpers.js';

/**
 * The keys of every object in a JSON text, with the ones that occur twice in one object
 * (`JSON.parse` keeps the last one silently, so duplicates need a scan of their own).
 */
function duplicateKeys(json: string): string[] {
  let i = 0;
  const dups: string[] = [];
  const ws = () => {
    while (/\s/.test(json[i] ?? '')) i++;
  };
  const str = (): string => {
    const start = i++;
    while (json[i] !== '"') i += json[i] === '\\' ? 2 : 1;
    i++;
    return JSON.parse(json.slice(start, i)) as string;
  };
  const value = (path: string): void => {
    ws();
    const c = json[i];
    if (c === '{') {
      i++;
      const seen = new Set<string>();
      ws();
      if (json[i] === '}') return void i++;
      for (;;) {
        ws();
        const k = str();
        if (seen.has(k)) dups.push(`${path}${k}`);
        seen.add(k);
        ws();
        assert.equal(json[i++], ':', `':' expected at ${i} in ${json}`);
        value(`${path}${k}.`);
        ws();
        if (json[i++] === '}') return;
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (json[i] === ']') return void i++;
      for (;;) {
        value(path);
        ws();
        if (json[i++] === ']') return;
      }
    }
    if (c === '"') return void str();
    while (i < json.length && !/[\s,}\]]/.test(json[i] ?? '')) i++;
  };
  value('');
  return dups;
}

/** Runs a few log calls in a child process with this LOG_FORMAT; returns its stdout. */
function logInChild(format: string): { status: number | null; stdout: string; stderr: string } {
  const script = [
    "import { createLogger } from './src/hub/logger.ts';",
    "const log = createLogger({ level: 'info' });",
    "log.info({ conversationId: 'c1', botToken: 'xoxb-SECRET-1', llm: { apiKey: 'sk-SECRET-2' } }, 'hello from the hub');",
    "log.warn('second line');",
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, LOG_FORMAT: format },
    encoding: 'utf8',
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('log format', () => {
  it('a terminal gets readable lines, anything else JSON; LOG_FORMAT overrides either way', () => {
    assert.equal(logFormat(undefined, true), 'pretty');
    assert.equal(logFormat(undefined, false), 'json');
    assert.equal(logFormat('', true), 'pretty');
    assert.equal(logFormat('json', true), 'json');
    assert.equal(logFormat('pretty', false), 'pretty');
    assert.equal(logFormat(' JSON ', true), 'json');
  });

  it('an invalid LOG_FORMAT names the variable and the allowed values', () => {
    assert.throws(
      () => logFormat('xml', false),
      (e: unknown) => e instanceof HubError && e.code === 'CONFIG_INVALID' && /LOG_FORMAT must be one of json, pretty \(got "xml"\)/.test(e.message),
    );
  });

  it('LOG_FORMAT=json writes JSON lines, secrets redacted', () => {
    const r = logInChild('json');
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 2);
    assert.equal(lines[0]?.msg, 'hello from the hub');
    assert.equal(lines[0]?.botToken, '[Redacted]');
    assert.deepEqual(lines[0]?.llm, { apiKey: '[Redacted]' });
    assert.doesNotMatch(r.stdout, /SECRET/);
  });

  it('LOG_FORMAT=pretty writes readable lines (not JSON), secrets redacted', () => {
    const r = logInChild('pretty');
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n').filter((l) => /INFO|WARN/.test(l));
    assert.equal(lines.length, 2, r.stdout);
    for (const l of lines) assert.throws(() => JSON.parse(l), SyntaxError, `a JSON line: ${l}`);
    assert.match(lines[0] ?? '', /\d\d:\d\d:\d\d\.\d{3}\] INFO.*: hello from the hub/);
    assert.match(lines[1] ?? '', /WARN.*: second line/);
    assert.match(r.stdout, /conversationId: "c1"/);
    assert.doesNotMatch(r.stdout, /SECRET/);
  });

  /** The real entry point: `switchboard start`, which fails fast here on an unreachable database. */
  function cli(format: string): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start'], {
      env: { ...process.env, LOG_FORMAT: format, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', PORT: '0' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  it('switchboard start logs in the chosen format and refuses an invalid LOG_FORMAT before starting', () => {
    const bad = cli('yaml');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /switchboard: LOG_FORMAT must be one of json, pretty \(got "yaml"\)/);
    assert.equal(bad.stdout, '');

    const json = cli('json');
    assert.equal(json.status, 1, json.stderr);
    const fatal = JSON.parse(json.stdout.trim().split('\n').at(-1) ?? '') as { level: number; msg: string };
    assert.equal(fatal.level, 60);
    assert.match(fatal.msg, /switchboard could not start/);

    const pretty = cli('pretty');
    assert.equal(pretty.status, 1, pretty.stderr);
    assert.match(pretty.stdout, /FATAL.*: switchboard could not start/);
    assert.throws(() => JSON.parse(pretty.stdout.trim().split('\n')[0] ?? ''), SyntaxError);
  });
});

describe('log lines', () => {
  it('the scan finds a key written twice', () => {
    assert.deepEqual(duplicateKeys('{"a":1,"b":{"c":[{"d":"x\\"}","d":2}]},"a":"}"}'), ['b.c.d', 'a']);
    assert.deepEqual(duplicateKeys('{"a":[],"b":{},"c":null,"d":-1.5e3}'), []);
  });

  it('no log line of a desk flow carries a key twice (the channel logger binds `channel`)', async () => {
    const fake = await startFakeSlack();
    const db = sqliteDb();
    const dataDir = mkdtempSync(join(tmpdir(), 'sb-logkeys-'));
    const lines: string[] = [];
    const log = createLogger({ level: 'debug', format: 'json', destination: { write: (s: string) => void lines.push(s) } });
    const config = hubConfigSchema.parse({
      logLevel: 'debug',
      dataDir,
      server: { port: 0 },
      storage: { url: db.url },
      redis: { url: REDIS_URL, prefix: uniqueName('sbt') },
      queues: { partitions: 2, backoffMs: 50 },
      channels: {
        webchat: { enabled: false },
        // From the config, as in production: the desk gets the hub's `channel: slack` logger.
        slack: { enabled: true, botToken: 'xoxb-test', signingSecret: SECRET, apiUrl: fake.apiUrl, caseChannel: CASES },
      },
    });
    const lb = new LoopbackAdapter({ channel: 'webchat' });
    const hub = await Hub.start({ config, log, adapters: [lb], responder: new HumanResponder() });
    try {
      // The case channel refuses the first post (logged with the Slack channel), then takes it.
      fake.failNext('chat.postMessage', { error: 'channel_not_found' });
      await lb.receive('alice', 'I want a human', { userName: 'Alice' });
      await until(() => fake.ok('chat.postMessage').length > 0, 15_000, 'the case posted');
      // A reply in a thread that is no case (logged with the Slack channel too).
      const reply = { type: 'message', channel: CASES, user: 'U1', text: 'hi', ts: slackTs(), thread_ts: slackTs() };
      const res = await postSlack(`${hub.url}/slack/events`, eventBody(reply), 'application/json');
      assert.equal(res.status, 200);
      await until(() => lines.some((l) => l.includes('unknown thread')), 10_000, 'the unknown-thread line');

      assert.ok(lines.length > 10, `a real flow logs (${lines.length} lines)`);
      const withDups = lines.flatMap((l) => {
        const d = duplicateKeys(l);
        return d.length ? [`${d.join(', ')} in ${l.trim()}`] : [];
      });
      assert.deepEqual(withDups, [], `log lines with a key written twice:\n${withDups.join('\n')}`);
      const refused = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => /cannot use channel/.test(String(l.msg)));
      assert.ok(refused, 'the channel_not_found line');
      assert.equal(refused.channel, 'slack');
      assert.equal(refused.slackChannel, CASES);
    } finally {
      await hub.stop();
      await cleanRedis(config.redis.prefix);
      await fake.close();
      await db.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
