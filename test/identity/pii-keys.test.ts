/**
 * The PII codec's format and keys, the hub's key source (environment, else a generated 0600 file
 * reused on restart) and `switchboard pii rotate` (docs/identity.md "Encryption at rest").
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { PLAINTEXT, createPiiCodec, parsePiiKeys } from '../../src/core/storage/pii.js';
import { Storage } from '../../src/core/storage/storage.js';
import { isHubError } from '../../src/core/errors.js';
import { hubPiiCodec, PII_KEY_FILE } from '../../src/hub/pii.js';
import { piiCommand } from '../../src/cli/pii-cmd.js';
import { recordInbound } from '../../src/core/conversation/inbound.js';
import { startTestHub } from '../helpers/hub.js';
import { DIALECTS, makeDb, sqliteDb } from '../helpers/env.js';
import { inbound } from './helpers.js';

const b64 = () => randomBytes(32).toString('base64');
const tempDir = () => mkdtempSync(join(tmpdir(), 'sb-pii-'));

describe('identity: the PII codec', () => {
  const codec = createPiiCodec({ keys: [{ id: 'k1', key: randomBytes(32) }], hashSecret: randomBytes(32) });

  it('seals as pii1:<keyId>:<base64url(iv|tag|ciphertext)> with a fresh IV each time, and opens it', () => {
    const a = codec.seal('张三 <zhang@example.cn>');
    const b = codec.seal('张三 <zhang@example.cn>');
    assert.match(a, /^pii1:k1:[A-Za-z0-9_-]+$/);
    assert.notEqual(a, b, 'random IV');
    assert.equal(Buffer.from(a.slice('pii1:k1:'.length), 'base64url').length, 12 + 16 + Buffer.byteLength('张三 <zhang@example.cn>'));
    assert.equal(codec.open(a), '张三 <zhang@example.cn>');
    assert.equal(codec.open(''), '');
    assert.equal(codec.open('written before encryption'), 'written before encryption');
  });

  it('lookups are keyed by the hash secret only: another encryption key gives the same hash, another secret another', () => {
    const secret = randomBytes(32);
    const one = createPiiCodec({ keys: [{ id: 'a', key: randomBytes(32) }], hashSecret: secret });
    const two = createPiiCodec({ keys: [{ id: 'b', key: randomBytes(32) }], hashSecret: secret });
    assert.equal(one.lookup('identity', 'ann@example.com'), two.lookup('identity', 'ann@example.com'));
    assert.notEqual(one.lookup('identity', 'ann@example.com'), one.lookup('search', 'ann@example.com'));
    assert.notEqual(one.lookup('identity', 'ann@example.com'), codec.lookup('identity', 'ann@example.com'));
    assert.equal(PLAINTEXT.lookup('identity', 'x'), undefined);
  });

  it('plaintext storage escapes a value that looks sealed, and refuses a sealed one by its key id', () => {
    for (const v of ['pii1:k1:AAAA', 'pii0:x', 'plain']) assert.equal(PLAINTEXT.open(PLAINTEXT.seal(v)), v);
    assert.throws(() => PLAINTEXT.open(codec.seal('x'), 'messages.text'), (e: unknown) => isHubError(e, 'CONFIG_MISSING_ENV') && /messages\.text .*"k1".*SWITCHBOARD_PII_KEYS/.test(e.message));
  });

  it('bad keys are refused naming the variable and the entry', () => {
    assert.deepEqual(parsePiiKeys(`k2:${b64()}, k1:${randomBytes(32).toString('base64url')}`).map((k) => k.id), ['k2', 'k1']);
    assert.throws(() => parsePiiKeys(`k1:${randomBytes(16).toString('base64')}`), /SWITCHBOARD_PII_KEYS: key "k1" decodes to 16 bytes; AES-256 needs 32/);
    assert.throws(() => parsePiiKeys(`bad id:${b64()}`), /key id "bad id"/);
    assert.throws(() => parsePiiKeys(b64()), /entry 1 is not <keyId>:<base64 of 32 bytes>/);
    assert.throws(() => parsePiiKeys(' , '), /no key given/);
    assert.throws(() => createPiiCodec({ keys: [{ id: 'k1', key: randomBytes(32) }], hashSecret: randomBytes(8) }), /SWITCHBOARD_PII_HASH_KEY: 8 bytes/);
  });
});

describe('identity: the hub\'s PII keys', () => {
  it('from the environment: both variables, or a clear error naming the missing one', () => {
    const dir = tempDir();
    try {
      const c = hubPiiCodec({ dataDir: dir, env: { SWITCHBOARD_PII_KEYS: `k9:${b64()},k8:${b64()}`, SWITCHBOARD_PII_HASH_KEY: b64() } });
      assert.equal(c.currentKeyId, 'k9');
      assert.throws(() => hubPiiCodec({ dataDir: dir, env: { SWITCHBOARD_PII_KEYS: `k9:${b64()}` } }), /SWITCHBOARD_PII_KEYS is set but SWITCHBOARD_PII_HASH_KEY is not/);
      assert.throws(() => hubPiiCodec({ dataDir: dir, env: { SWITCHBOARD_PII_HASH_KEY: b64() } }), /SWITCHBOARD_PII_HASH_KEY is set but SWITCHBOARD_PII_KEYS is not/);
      assert.throws(() => hubPiiCodec({ dataDir: dir, env: { SWITCHBOARD_PII_KEYS: 'k1:short', SWITCHBOARD_PII_HASH_KEY: b64() } }), /PII keys from the environment: SWITCHBOARD_PII_KEYS: key "k1"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('without the environment: generated once into a 0600 file, reused, never made by the CLI', () => {
    const dir = tempDir();
    try {
      assert.throws(() => hubPiiCodec({ dataDir: dir, env: {}, generate: false }), /no PII keys: set SWITCHBOARD_PII_KEYS/);
      const warned: string[] = [];
      const first = hubPiiCodec({ dataDir: dir, env: {}, log: { warn: (_o, m) => warned.push(m) } });
      const file = join(dir, PII_KEY_FILE);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.match(warned.join('\n'), /PII keys generated into .*pii-keys.*set SWITCHBOARD_PII_KEYS and SWITCHBOARD_PII_HASH_KEY/);
      const text = readFileSync(file, 'utf8');
      const again = hubPiiCodec({ dataDir: dir, env: {}, log: { warn: (_o, m) => warned.push(m) } });
      assert.equal(readFileSync(file, 'utf8'), text, 'not regenerated');
      assert.equal(warned.length, 1);
      assert.equal(again.currentKeyId, first.currentKeyId);
      assert.equal(again.open(first.seal('Ann')), 'Ann');
      assert.equal(again.lookup('identity', 'a'), first.lookup('identity', 'a'));
      writeFileSync(file, 'garbage');
      assert.throws(() => hubPiiCodec({ dataDir: dir, env: {} }), /pii-keys: not a PII key file/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a hub started with no key in the environment generates the key file once and reuses it on restart', async () => {
    const dir = tempDir();
    const db = sqliteDb();
    const saved = { keys: process.env.SWITCHBOARD_PII_KEYS, hash: process.env.SWITCHBOARD_PII_HASH_KEY };
    delete process.env.SWITCHBOARD_PII_KEYS;
    delete process.env.SWITCHBOARD_PII_HASH_KEY;
    try {
      const one = await startTestHub({ db, config: { dataDir: dir } });
      const said = await recordInbound(one.hub.storage, inbound('email', 'lin@example.org', 'where is my refund', { ref: { channel: 'email', chatId: 'lin@example.org' } }), { reopenWindowMs: 0 });
      await one.stop();
      const file = join(dir, PII_KEY_FILE);
      const keys = readFileSync(file, 'utf8');
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.ok(!readFileSync(db.url.slice('sqlite:'.length)).includes('where is my refund'), 'the hub encrypts');
      const two = await startTestHub({ db, config: { dataDir: dir } });
      try {
        assert.equal(readFileSync(file, 'utf8'), keys, 'the same keys');
        assert.deepEqual((await two.hub.storage.messages.ofCustomer(said.customer.id, 5)).map((m) => m.text), ['where is my refund']);
        assert.equal((await two.hub.storage.customers.findIdentity('email', 'lin@example.org'))?.customerId, said.customer.id);
      } finally {
        await two.stop();
      }
    } finally {
      if (saved.keys !== undefined) process.env.SWITCHBOARD_PII_KEYS = saved.keys;
      if (saved.hash !== undefined) process.env.SWITCHBOARD_PII_HASH_KEY = saved.hash;
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

for (const dialect of DIALECTS) {
  describe(`identity: switchboard pii rotate (${dialect})`, () => {
    const k1 = `k1:${b64()}`;
    const k2 = `k2:${b64()}`;
    const hash = b64();
    let dir: string;
    let tdb: Awaited<ReturnType<typeof makeDb>>;
    let hubYaml: string;
    const run = async (argv: string[], keys: string) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await piiCommand(argv, { out: { write: (s: string) => out.push(s) }, err: { write: (s: string) => err.push(s) } }, { configFile: hubYaml, env: { SWITCHBOARD_PII_KEYS: keys, SWITCHBOARD_PII_HASH_KEY: hash } });
      return { code, out: out.join(''), err: err.join('') };
    };
    before(async () => {
      dir = tempDir();
      tdb = await makeDb(dialect);
      hubYaml = join(dir, 'hub.yaml');
      writeFileSync(hubYaml, `storage:\n  url: ${tdb.url}\ndataDir: ${dir}\n`);
      const storage = await Storage.open(tdb.url, { pii: hubPiiCodec({ dataDir: dir, env: { SWITCHBOARD_PII_KEYS: k1, SWITCHBOARD_PII_HASH_KEY: hash } }) });
      for (let i = 0; i < 5; i++) await recordInbound(storage, inbound('telegram', `u${i}`, `question ${i}`), { reopenWindowMs: 0 });
      await storage.close();
    });
    after(async () => {
      await tdb.drop();
      rmSync(dir, { recursive: true, force: true });
    });

    it('status counts, rotate re-encrypts in batches under the first key, a second run finds nothing', async () => {
      const status = await run(['status'], `${k2},${k1}`);
      assert.equal(status.code, 0, status.err);
      assert.match(status.out, /messages\.text: 5/);
      const r = await run(['rotate', '--batch', '2'], `${k2},${k1}`);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /messages\.text: 5\n/);
      assert.match(r.out, /identities\.platform_user_id: 5\n/);
      const again = await run(['rotate'], `${k2},${k1}`);
      assert.equal(again.code, 0, again.err);
      assert.match(again.out, /nothing to re-encrypt/);
      // The old key can go: everything reads under k2 alone.
      const storage = await Storage.open(tdb.url, { pii: hubPiiCodec({ dataDir: dir, env: { SWITCHBOARD_PII_KEYS: k2, SWITCHBOARD_PII_HASH_KEY: hash } }) });
      try {
        const id = await storage.customers.findIdentity('telegram', 'u3');
        assert.deepEqual((await storage.messages.ofCustomer(id?.customerId ?? '', 5)).map((m) => m.text), ['question 3']);
      } finally {
        await storage.close();
      }
    });

    it('bad input: an unknown subcommand, a bad batch, keys without the database\'s current key', async () => {
      assert.equal((await run(['spin'], k2)).code, 2);
      assert.match((await run(['rotate', '--batch', 'ten'], k2)).err, /--batch ten: expected a number of rows/);
      const r = await run(['rotate'], k1);
      assert.equal(r.code, 1);
      assert.match(r.err, /SWITCHBOARD_PII_KEYS lacks key "k2"/);
    });
  });
}
