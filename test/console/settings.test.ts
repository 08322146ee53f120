/**
 * The admins' settings read-out (/console/settings, /console/api/settings): what the hub runs with,
 * and nothing secret — token hashes, webhook secrets and URL credentials never leave the hub.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { redact } from '../../src/console/settings.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

const AGENT = generateToken();
const ADMIN = generateToken();
const SECRET = 'whsec_settings_test_0123456789abcdef';
const HOOK = 'https://user:pw@hooks.example.com/services/T000/B000/XXXXXXXX?token=abc';

describe('console settings read-out', () => {
  let t: TestHub;
  before(async () => {
    t = await startTestHub({
      adapters: [new LoopbackAdapter({ channel: 'alpha' })],
      config: {
        api: { tokens: [{ name: 'desk', roles: ['agent'], sha256: hashToken(AGENT) }, { name: 'boss', roles: ['admin'], sha256: hashToken(ADMIN) }] },
        webhooks: [{ name: 'crm', url: HOOK, events: ['*'], secret: SECRET }],
      },
    });
  });
  after(async () => t?.stop());

  const get = (path: string, token?: string) => fetch(`${t.hub.url}${path}`, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), accept: 'application/json' } });

  it('admins only: 401 without a token, 403 for an agent', async () => {
    assert.equal((await get('/console/api/settings')).status, 401);
    assert.equal((await get('/console/api/settings', AGENT)).status, 403);
    assert.equal((await get('/console/settings', AGENT)).status, 403);
  });

  it('shows the configuration and what runs, never a secret', async () => {
    const res = await get('/console/api/settings', ADMIN);
    assert.equal(res.status, 200);
    const text = await res.text();
    const body = JSON.parse(text) as { config: { api: { tokens: { name: string; roles: string[]; sha256: string }[] }; webhooks: { url: string; secret: string }[] }; runtime: { channels: { name: string }[]; desk: string } };
    assert.deepEqual(body.config.api.tokens.map((x) => [x.name, x.roles, x.sha256]), [['desk', ['agent'], '(set)'], ['boss', ['admin'], '(set)']]);
    assert.equal(body.config.webhooks[0]?.secret, '(set)');
    assert.equal(body.config.webhooks[0]?.url, 'https://hooks.example.com/…');
    assert.ok(body.runtime.channels.some((c) => c.name === 'alpha'));
    assert.match(body.runtime.desk, /console/);
    for (const leak of [SECRET, hashToken(ADMIN), hashToken(AGENT), 'XXXXXXXX', 'pw@']) assert.ok(!text.includes(leak), `the read-out leaks ${leak}`);

    const page = await fetch(`${t.hub.url}/console/settings`, { headers: { authorization: `Bearer ${ADMIN}`, 'accept-language': 'zh-CN' } });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.match(html, /<h1>设置<\/h1>/);
    assert.match(html, /<td>webhooks<\/td><td>[^<]*hooks\.example\.com\/…[^<]*&#34;secret&#34;:&#34;\(set\)&#34;/);
    assert.match(html, /<td>analytics\.feedSeconds<\/td><td>15<\/td>/);
    assert.ok(!html.includes(SECRET));
  });

  it('redacts by key name and cuts credentials from URLs', () => {
    assert.deepEqual(redact({ botToken: 'xoxb-1', apiKey: '', password: undefined, storage: { url: 'postgres://u:p@db.example.com:5432/hub' }, sqlite: 'sqlite:./data/hub.db' }), {
      botToken: '(set)',
      apiKey: '(not set)',
      password: '(not set)',
      storage: { url: 'postgres://db.example.com:5432/…' },
      sqlite: 'sqlite:./data/hub.db',
    });
  });
});
