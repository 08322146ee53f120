/** Data at rest: the database folder is 0700, the database and its WAL 0600, whatever the umask. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { Storage } from '../../src/core/storage/storage.js';
import { startTestHub } from '../helpers/hub.js';

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

describe('data at rest', () => {
  let root: string;
  let umask: number;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'sb-perm-'));
    umask = process.umask(0o022); // the usual umask: without care, files would be 0644 and folders 0755
  });
  after(() => {
    process.umask(umask);
    rmSync(root, { recursive: true, force: true });
  });

  it('a new SQLite database is created 0600 (WAL and shm too) in a 0700 folder', async () => {
    const dir = join(root, 'fresh', 'data');
    const file = join(dir, 'switchboard.db');
    const s = await Storage.open(`sqlite:${file}`);
    try {
      assert.ok(existsSync(`${file}-wal`), 'WAL file exists');
      assert.equal(mode(dir), '700');
      for (const f of [file, `${file}-wal`, `${file}-shm`]) assert.equal(mode(f), '600', f);
    } finally {
      await s.close();
    }
  });

  it('an existing world-readable folder and database (an older version, npm start\'s setup) are tightened', async () => {
    const dir = join(root, 'old');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const file = join(dir, 'hub.db');
    const first = await Storage.open(`sqlite:${file}`);
    await first.close();
    chmodSync(dir, 0o755);
    chmodSync(file, 0o644);
    writeFileSync(`${file}-wal`, '');
    chmodSync(`${file}-wal`, 0o644);
    const s = await Storage.open(`sqlite:${file}`);
    await s.close();
    assert.equal(mode(dir), '700');
    assert.equal(mode(file), '600');
  });

  it('the hub tightens an existing data folder at start', async () => {
    const dataDir = join(root, 'datadir');
    mkdirSync(dataDir, { mode: 0o755 });
    chmodSync(dataDir, 0o755);
    const t = await startTestHub({ adapters: [new LoopbackAdapter()], config: { dataDir } });
    await t.stop();
    assert.equal(mode(dataDir), '700');
  });
});
