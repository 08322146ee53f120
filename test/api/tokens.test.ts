/**
 * API tokens: hub.yaml holds each token's SHA-256 under api.tokens; a Bearer header is checked in
 * constant time against every digest; 401 without a valid token, 403 without the role; config
 * mistakes (the raw token pasted, uppercase hex, a duplicate name, no role) name file, line, field.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { parseConfigText } from '../../src/hub/config-schema.js';
import { createLogger } from '../../src/hub/logger.js';
import { HubError } from '../../src/core/errors.js';
import {
  authLogFields,
  createTokenAuth,
  generateToken,
  hashToken,
  hasRole,
  ROLE_GRANTS,
  type ApiRole,
} from '../../src/api/tokens.js';

const ADMIN = 'sb_admin-token-0123456789abcdefghijklmnopqrstuv';
const CRM = 'sb_crm-token-0123456789abcdefghijklmnopqrstuvwx';
const DESK = 'sb_desk-token-0123456789abcdefghijklmnopqrstuvw';

function hubYaml(tokens: { name: string; roles: string[]; token: string }[]): string {
  return ['api:', '  tokens:', ...tokens.map((t) => `    - { name: ${t.name}, roles: [${t.roles.join(', ')}], sha256: ${hashToken(t.token)} }`), ''].join('\n');
}

const config = parseConfigText(
  'config/hub.yaml',
  hubYaml([
    { name: 'ops', roles: ['admin'], token: ADMIN },
    { name: 'crm', roles: ['events'], token: CRM },
    { name: 'helpdesk', roles: ['agent', 'events'], token: DESK },
  ]),
  { env: {} },
);
const auth = createTokenAuth(config.api.tokens);

function configError(text: string): HubError {
  try {
    parseConfigText('config/hub.yaml', text, { env: {} });
  } catch (e) {
    assert.ok(e instanceof HubError, `expected HubError, got ${String(e)}`);
    assert.equal(e.code, 'CONFIG_INVALID');
    return e;
  }
  assert.fail('expected a config error');
}

/** A different token of the same length: its last character changed. */
function sameLengthWrong(token: string): string {
  const wrong = `${token.slice(0, -1)}${token.endsWith('x') ? 'y' : 'x'}`;
  assert.equal(wrong.length, token.length);
  assert.notEqual(wrong, token);
  return wrong;
}

describe('API tokens', () => {
  it('hashToken is the lowercase hex SHA-256 of the UTF-8 bytes', () => {
    assert.equal(hashToken('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    // printf %s '日本' | sha256sum (UTF-8 bytes, not UTF-16)
    assert.equal(hashToken('日本'), 'cf2abf0c5be326cb922a70f8163f91079c4d9aa8655c60ead89ad545c9de2e92');
  });

  it('generateToken: sb_ and 32 random bytes in base64url, a new one each time', () => {
    const a = generateToken();
    const b = generateToken();
    assert.match(a, /^sb_[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(a.slice(3), 'base64url').length, 32);
    assert.notEqual(a, b);
  });

  it('a configured token authenticates with its name and roles, read through the real config loader', () => {
    assert.deepEqual(config.api.tokens.map((t) => t.name), ['ops', 'crm', 'helpdesk']);
    assert.deepEqual(auth.authenticate(`Bearer ${ADMIN}`), { name: 'ops', roles: ['admin'] });
    assert.deepEqual(auth.authenticate(`Bearer ${CRM}`), { name: 'crm', roles: ['events'] });
    assert.deepEqual(auth.authenticate(`Bearer ${DESK}`), { name: 'helpdesk', roles: ['agent', 'events'] });
  });

  it('the Bearer scheme in any case, with extra spaces around the token', () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER', 'bEaReR']) {
      assert.equal(auth.authenticate(`${scheme} ${CRM}`)?.name, 'crm', scheme);
    }
    assert.equal(auth.authenticate(`Bearer    ${CRM}  `)?.name, 'crm');
    assert.equal(auth.authenticate(`Bearer\t${CRM}`)?.name, 'crm');
  });

  it('no match: a missing header, another scheme, a wrong token of the same length, a prefix, a malformed header', () => {
    for (const header of [
      undefined,
      '',
      '   ',
      `Basic ${Buffer.from(`x:${CRM}`).toString('base64')}`,
      CRM,
      `Bearer ${sameLengthWrong(CRM)}`,
      `Bearer ${CRM.slice(0, -1)}`,
      `Bearer ${CRM}x`,
      `Bearer ${CRM} ${CRM}`,
      'Bearer',
      `Bearer ${hashToken(CRM)}`,
      `Bearer ${'a'.repeat(5000)}`,
      `Token ${CRM}`,
    ]) {
      assert.equal(auth.authenticate(header), undefined, String(header).slice(0, 80));
    }
  });

  it('authorize: 401 with WWW-Authenticate: Bearer when the token is missing or invalid', () => {
    const missing = auth.authorize(undefined, 'events');
    assert.equal(missing.ok, false);
    assert.ok(!missing.ok && missing.status === 401);
    assert.match(missing.error, /missing API token: send "Authorization: Bearer <token>"/);
    assert.equal(missing.headers['www-authenticate'], 'Bearer realm="switchboard"');

    const scheme = auth.authorize('Basic dXNlcjpwYXNz', 'events');
    assert.ok(!scheme.ok && scheme.status === 401);
    assert.match(scheme.error, /must use the Bearer scheme/);
    assert.equal(scheme.headers['www-authenticate'], 'Bearer realm="switchboard"');

    const wrong = auth.authorize(`Bearer ${sameLengthWrong(ADMIN)}`, 'events');
    assert.ok(!wrong.ok && wrong.status === 401);
    assert.equal(wrong.error, 'invalid API token');
    assert.equal(wrong.headers['www-authenticate'], 'Bearer realm="switchboard", error="invalid_token"');
    // The refusal never shows what was sent.
    assert.ok(!JSON.stringify(wrong).includes(ADMIN.slice(3, -1)));
  });

  it('authorize: 403 when the token lacks the role, naming the token and its roles', () => {
    const r = auth.authorize(`Bearer ${CRM}`, 'admin');
    assert.ok(!r.ok && r.status === 403);
    assert.equal(r.error, 'the token "crm" lacks the role admin (it has events)');
    assert.deepEqual(r.token, { name: 'crm', roles: ['events'] });
    const agent = auth.authorize(`bearer ${CRM}`, 'agent');
    assert.ok(!agent.ok && agent.status === 403);
  });

  it('the role matrix: admin may do everything, agent reads, events sends', () => {
    const expected: Record<string, Record<ApiRole, boolean>> = {
      [ADMIN]: { admin: true, agent: true, events: true },
      [CRM]: { admin: false, agent: false, events: true },
      [DESK]: { admin: false, agent: true, events: true },
    };
    for (const [token, rights] of Object.entries(expected)) {
      for (const [role, allowed] of Object.entries(rights) as [ApiRole, boolean][]) {
        const r = auth.authorize(`Bearer ${token}`, role);
        assert.equal(r.ok, allowed, `${auth.authenticate(`Bearer ${token}`)?.name} for ${role}`);
        if (r.ok) assert.equal(r.token.name, auth.authenticate(`Bearer ${token}`)?.name);
        else assert.equal(r.status, 403);
      }
    }
    assert.deepEqual(ROLE_GRANTS, { admin: ['admin'], agent: ['admin', 'agent'], events: ['admin', 'events'] });
    assert.equal(hasRole({ name: 'x', roles: ['agent'] }, 'events'), false);
  });

  it('without api.tokens every call is 401, and the error says how to create a token', () => {
    const none = createTokenAuth(parseConfigText('hub.yaml', '', { env: {} }).api.tokens);
    assert.equal(none.authenticate(`Bearer ${ADMIN}`), undefined);
    const r = none.authorize(`Bearer ${ADMIN}`, 'admin');
    assert.ok(!r.ok && r.status === 401);
    assert.match(r.error, /npx switchboard token create/);
  });

  it('the log fields name the token, never show it', () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const log = createLogger({ level: 'info', format: 'json', destination });
    const ok = auth.authorize(`Bearer ${DESK}`, 'agent');
    const refused = auth.authorize(`Bearer ${CRM}`, 'admin');
    const anonymous = auth.authorize(`Bearer ${sameLengthWrong(CRM)}`, 'admin');
    assert.deepEqual(authLogFields(ok), { tokenName: 'helpdesk' });
    assert.deepEqual(authLogFields(refused), { tokenName: 'crm', authStatus: 403 });
    assert.deepEqual(authLogFields(anonymous), { tokenName: null, authStatus: 401 });
    log.info({ ...authLogFields(ok), route: 'GET /api/customers/:id' }, 'api call');
    const line = JSON.parse(lines.join('')) as Record<string, unknown>;
    assert.equal(line.tokenName, 'helpdesk');
    assert.ok(!lines.join('').includes(DESK));
  });
});

describe('api.tokens in hub.yaml', () => {
  const hex = hashToken(CRM);

  it('the raw token pasted instead of its SHA-256 names file, line and field, and not the token', () => {
    const e = configError(`api:\n  tokens:\n    - name: crm\n      roles: [events]\n      sha256: ${CRM}\n`);
    assert.match(e.message, /config\/hub\.yaml:5: api\.tokens\[0\]\.sha256: must be the SHA-256 of the token \(64 lowercase hex characters\), not the token itself/);
    assert.equal(e.context.field, 'api.tokens[0].sha256');
    assert.equal(e.context.line, 5);
    assert.ok(!e.message.includes(CRM), 'the error repeats the token');
  });

  it('uppercase hex is refused, naming the field', () => {
    const e = configError(`api:\n  tokens:\n    - { name: crm, roles: [events], sha256: ${hex.toUpperCase()} }\n`);
    assert.match(e.message, /config\/hub\.yaml:3: api\.tokens\[0\]\.sha256: must be lowercase hex/);
  });

  it('a digest of the wrong length says so', () => {
    const e = configError(`api:\n  tokens:\n    - { name: crm, roles: [events], sha256: ${hex.slice(0, 40)} }\n`);
    assert.match(e.message, /api\.tokens\[0\]\.sha256: must be 64 lowercase hex characters \(the whole SHA-256 digest\), got 40/);
  });

  it('names are unique', () => {
    const e = configError(
      `api:\n  tokens:\n    - { name: crm, roles: [events], sha256: ${hex} }\n    - name: crm\n      roles: [agent]\n      sha256: ${hashToken(DESK)}\n`,
    );
    assert.match(e.message, /config\/hub\.yaml:4: api\.tokens\[1\]\.name: "crm" is also the name of api\.tokens\[0\]: names must be unique/);
  });

  it('one token under two names is refused', () => {
    const e = configError(`api:\n  tokens:\n    - { name: crm, roles: [events], sha256: ${hex} }\n    - { name: crm2, roles: [agent], sha256: ${hex} }\n`);
    assert.match(e.message, /api\.tokens\[1\]\.sha256: the same token as api\.tokens\[0\] \(crm\)/);
  });

  it('at least one role, and only known roles', () => {
    const none = configError(`api:\n  tokens:\n    - { name: crm, roles: [], sha256: ${hex} }\n`);
    assert.match(none.message, /config\/hub\.yaml:3: api\.tokens\[0\]\.roles: give the token at least one role: admin, agent or events/);
    const missing = configError(`api:\n  tokens:\n    - { name: crm, sha256: ${hex} }\n`);
    assert.match(missing.message, /api\.tokens\[0\]\.roles: /);
    const unknown = configError(`api:\n  tokens:\n    - { name: crm, roles: [events, root], sha256: ${hex} }\n`);
    assert.match(unknown.message, /api\.tokens\[0\]\.roles\[1\]: Invalid option: expected one of "admin"\|"agent"\|"events"/);
  });

  it('a bad name and an unknown field are named', () => {
    const bad = configError(`api:\n  tokens:\n    - { name: "my crm", roles: [events], sha256: ${hex} }\n`);
    assert.match(bad.message, /api\.tokens\[0\]\.name: must start with a letter/);
    const token = configError(`api:\n  tokens:\n    - { name: crm, roles: [events], sha256: ${hex}, token: ${CRM} }\n`);
    assert.match(token.message, /api\.tokens\[0\]: unknown field\(s\) token/);
  });

  it('server.adminToken is gone: the error says to move to api.tokens', () => {
    const e = configError('server:\n  port: 3000\n  adminToken: ${ADMIN_TOKEN:-0123456789abcdef0123}\n');
    assert.match(e.message, /config\/hub\.yaml:3: server\.adminToken: removed .*npx switchboard token create NAME --role admin.*api\.tokens/);
  });

  it('api.tokens defaults to none', () => {
    assert.deepEqual(parseConfigText('hub.yaml', 'server:\n  port: 1\n', { env: {} }).api, { tokens: [] });
  });

  it('a digest that is not 64 lowercase hex characters never reaches createTokenAuth unnoticed', () => {
    assert.throws(() => createTokenAuth([{ name: 'x', roles: ['admin'], sha256: 'ABCD' }]), /api\.tokens\[0\]\.sha256/);
  });
});
