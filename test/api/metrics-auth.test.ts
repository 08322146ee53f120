/**
 * `/metrics` on the public port requires a token with the `admin` role (issue #13); `/healthz` and
 * `/readyz` stay open for load balancers. A real hub, tokens from hub.yaml's api.tokens.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

const ADMIN = generateToken();
const EVENTS = generateToken();

describe('/metrics requires an admin token', () => {
  let t: TestHub;
  before(async () => {
    t = await startTestHub({
      adapters: [new LoopbackAdapter()],
      config: {
        api: {
          tokens: [
            { name: 'prometheus', roles: ['admin'], sha256: hashToken(ADMIN) },
            { name: 'crm', roles: ['events', 'agent'], sha256: hashToken(EVENTS) },
          ],
        },
      },
    });
  });
  after(() => t.stop());

  it('no token: 401 with WWW-Authenticate: Bearer, and no metrics', async () => {
    const res = await fetch(`${t.hub.url}/metrics`);
    assert.equal(res.status, 401);
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="switchboard"');
    const body = (await res.json()) as { error: string };
    assert.match(body.error, /missing API token/);
  });

  it('a wrong token of the same length: 401', async () => {
    const wrong = `${ADMIN.slice(0, -1)}${ADMIN.endsWith('A') ? 'B' : 'A'}`;
    const res = await fetch(`${t.hub.url}/metrics`, { headers: { authorization: `Bearer ${wrong}` } });
    assert.equal(res.status, 401);
    assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="switchboard", error="invalid_token"$/);
    assert.doesNotMatch(await res.text(), /switchboard_/);
  });

  it('a token without the admin role: 403', async () => {
    const res = await fetch(`${t.hub.url}/metrics`, { headers: { authorization: `Bearer ${EVENTS}` } });
    assert.equal(res.status, 403);
    const body = (await res.json()) as { error: string };
    assert.equal(body.error, 'the token "crm" lacks the role admin (it has events, agent)');
  });

  it('an admin token: 200 with the Prometheus text', async () => {
    const res = await fetch(`${t.hub.url}/metrics`, { headers: { authorization: `bearer ${ADMIN}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /# TYPE switchboard_messages_in_total counter/);
    assert.match(text, /switchboard_queue_depth\{queue="in-\d"\} 0/);
  });

  it('/healthz and /readyz stay open', async () => {
    assert.equal((await fetch(`${t.hub.url}/healthz`)).status, 200);
    const ready = await fetch(`${t.hub.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { ok: true, storage: 'ok', redis: 'ok' });
  });
});
