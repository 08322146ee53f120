#!/usr/bin/env node
// `npm start`: sets the hub up on a fresh machine and runs it on embedded defaults.
// - installs dependencies when node_modules is missing (npm ci, else npm install: see README);
// - creates ./data (SQLite is migrated by the hub at start-up);
// - finds Redis: REDIS_URL, else 127.0.0.1:6379 when something answers, else a private
//   redis-server on a free port with its data in ./data/redis, stopped on exit; installs Debian's
//   redis-server when missing and running as root with apt, else exits with how to install it;
// - serves the demo order API (scripts/demo-orders.mjs) on 127.0.0.1:8088 for the demo knowledge
//   base's order lookup (DEMO_ORDERS=0 turns it off);
// - when config/hub.yaml has no api.tokens (and SWITCHBOARD_CONFIG is unset), makes one admin token
//   for the console once (kept in data/console-token, 0600) and runs the hub on data/hub.demo.yaml:
//   config/hub.yaml plus that token's hash. Prints where to sign in.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { createConnection, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve } from 'node:path';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const say = (m) => console.log(`[switchboard] ${m}`);

function run(cmd, args) {
  return spawnSync(cmd, args, { stdio: 'inherit' }).status === 0;
}

function which(bin) {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : '';
}

function redisAnswers(host, port) {
  return new Promise((ok) => {
    const s = createConnection({ host, port });
    const done = (v) => {
      s.destroy();
      ok(v);
    };
    s.setTimeout(800, () => done(false));
    s.once('error', () => done(false));
    s.once('connect', () => s.write('PING\r\n'));
    s.once('data', (d) => done(d.toString().startsWith('+PONG') || d.toString().includes('NOAUTH')));
  });
}

function freePort() {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => ok(port));
    });
  });
}

async function ensureRedis(env) {
  if (env.REDIS_URL) return undefined;
  if (await redisAnswers('127.0.0.1', 6379)) {
    env.REDIS_URL = 'redis://127.0.0.1:6379';
    return undefined;
  }
  if (!which('redis-server')) {
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    if (isRoot && which('apt-get')) {
      say('redis-server not found: installing Debian\'s redis-server');
      run('apt-get', ['update', '-qq']);
      if (!run('apt-get', ['install', '-y', '-qq', 'redis-server'])) {
        console.error('switchboard: installing redis-server failed; install it (apt-get install redis-server) or set REDIS_URL');
        process.exit(1);
      }
    } else {
      console.error('switchboard: Redis is needed: run `sudo apt-get install redis-server`, or set REDIS_URL=redis://host:port');
      process.exit(1);
    }
  }
  const port = await freePort();
  const dir = join(root, 'data', 'redis');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  say(`starting a private redis-server on 127.0.0.1:${port} (data in data/redis)`);
  const child = spawn(
    which('redis-server'),
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--save', '', '--daemonize', 'no'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  for (let i = 0; i < 50 && !(await redisAnswers('127.0.0.1', port)); i++) await new Promise((r) => setTimeout(r, 100));
  env.REDIS_URL = `redis://127.0.0.1:${port}`;
  return child;
}

if (!existsSync(join(root, 'node_modules', '.package-lock.json'))) {
  say('installing dependencies (first run; better-sqlite3 compiles from source, about a minute)');
  if (!run('npm', ['ci', '--no-audit', '--no-fund'])) {
    say('npm ci failed (a known npm bug with per-platform packages); falling back to npm install');
    if (!run('npm', ['install', '--no-audit', '--no-fund'])) process.exit(1);
  }
}
// The hub's data (database, secrets, the private Redis's AOF) is the operator's only: 0700.
mkdirSync(join(root, 'data'), { recursive: true, mode: 0o700 });
chmodSync(join(root, 'data'), 0o700);

const env = { ...process.env };
const redis = await ensureRedis(env);

// The demo order API (only the demo base calls it; a real deployment points orders.yaml elsewhere).
let orders;
if (env.DEMO_ORDERS !== '0') {
  const { startDemoOrders, DEMO_ORDERS, DEMO_ORDERS_PORT } = await import('./demo-orders.mjs');
  env.SHOP_API_TOKEN ||= 'demo-shop-token';
  orders = await startDemoOrders({ token: env.SHOP_API_TOKEN });
  if (orders) say(`demo order API on http://127.0.0.1:${DEMO_ORDERS_PORT} (order numbers ${Object.keys(DEMO_ORDERS).join(', ')}; any other number goes to a person)`);
  else say(`port ${DEMO_ORDERS_PORT} is taken: the demo order API is not started`);
}

// A console sign-in for the demo: only when the operator has configured no API token yet.
async function demoConsoleToken() {
  if (env.SWITCHBOARD_CONFIG || !existsSync(join(root, 'config', 'hub.yaml'))) return undefined;
  const { parseDocument } = await import('yaml');
  const doc = parseDocument(readFileSync(join(root, 'config', 'hub.yaml'), 'utf8'));
  const tokens = doc.getIn(['api', 'tokens']);
  if (tokens && (tokens.items?.length ?? 0) > 0) return undefined;
  const file = join(root, 'data', 'console-token');
  let token = existsSync(file) ? readFileSync(file, 'utf8').trim() : '';
  if (!token) {
    token = `sb_${randomBytes(32).toString('base64url')}`;
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
  }
  doc.setIn(['api', 'tokens'], [{ name: 'demo-admin', roles: ['admin'], sha256: createHash('sha256').update(token).digest('hex') }]);
  const demo = join(root, 'data', 'hub.demo.yaml');
  writeFileSync(demo, `# Made by npm start from config/hub.yaml plus a demo console token (data/console-token). Do not edit.\n${doc.toString()}`, { mode: 0o600 });
  env.SWITCHBOARD_CONFIG = demo;
  return token;
}
const consoleToken = await demoConsoleToken();
if (consoleToken) {
  say(`console: http://localhost:${env.PORT ?? 3000}/console  sign in with the demo admin token ${consoleToken}`);
  say('(kept in data/console-token; add your own tokens to config/hub.yaml with `npx switchboard token create NAME --role agent` and this demo token goes away)');
}
const hub = spawn(process.execPath, ['--import', 'tsx', join(root, 'src', 'cli', 'main.ts'), process.argv[2] ?? 'start'], {
  stdio: 'inherit',
  env,
});
const forward = (sig) => hub.kill(sig);
process.on('SIGINT', () => forward('SIGINT'));
process.on('SIGTERM', () => forward('SIGTERM'));
hub.on('exit', (code) => {
  if (redis) redis.kill('SIGTERM');
  orders?.close();
  process.exit(code ?? 0);
});
