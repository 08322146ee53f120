/**
 * `switchboard events import FILE.csv --type T` (issue #15): the CLI, spawned, against a real hub
 * (real Redis, the shipped config/workflows): good rows become events under
 * `import:<sha256 of the file, 16 hex>:<line>`, bad rows are reported by line and field and
 * skipped; the same file again creates nothing new; no SWITCHBOARD_TOKEN is exit 2.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { startTestHub, type TestHub } from '../helpers/hub.js';

const TOKEN = generateToken();
const RENEWALS = 'test/fixtures/events/renewals.csv';
const FLAGGED = 'test/fixtures/events/flagged.csv';
const MAP = ['--map', 'customer_id=externalId', '--map', 'sub_id=data.subscriptionId'];

interface Cli {
  code: number;
  out: string;
  err: string;
}

/** The CLI as a user runs it; no hub.yaml (SWITCHBOARD_CONFIG names none), so config/workflows. */
function cli(args: string[], env: Record<string, string | undefined>): Promise<Cli> {
  const base: NodeJS.ProcessEnv = { ...process.env, SWITCHBOARD_CONFIG: join(tmpdir(), 'sb-no-hub.yaml') };
  delete base.SWITCHBOARD_TOKEN;
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/switchboard.mjs', 'events', 'import', ...args], { env: { ...base, ...env } }, (err, out, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, out, err: stderr });
    });
  });
}

const lastJson = (out: string): Record<string, unknown> => JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
const key = (file: string, line: number) => `import:${createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 16)}:${line}`;

describe('switchboard events import', () => {
  let t: TestHub;
  before(async () => {
    t = await startTestHub({ config: { api: { tokens: [{ name: 'crm', roles: ['events'], sha256: hashToken(TOKEN) }] } } });
  });
  after(() => t.stop());

  it('posts the good rows as events, reports the bad ones by line and field; the same file again creates nothing new', async () => {
    const env = { SWITCHBOARD_TOKEN: TOKEN };
    const first = await cli([RENEWALS, '--type', 'subscription.expiring', ...MAP, '--url', t.hub.url], env);
    assert.equal(first.code, 1, `bad rows skipped: exit 1\n${first.err}`);
    assert.match(first.out, /^5 rows: 3 accepted, 0 already imported, 2 bad \(skipped\), 0 failed$/m);
    assert.deepEqual(lastJson(first.out), { rows: 5, accepted: 3, alreadyImported: 0, failed: 0, bad: 2 });
    assert.match(first.err, new RegExp(`^${RENEWALS}:5: data\\.dueAt: is required$`, 'm'));
    assert.match(first.err, new RegExp(`^${RENEWALS}:6: data\\.dueAt: must be an ISO 8601 .*\\(cell "next week"\\)$`, 'm'));
    assert.match(first.err, /column\(s\) notes not imported/);

    const repo = t.hub.storage.workflowRuns;
    const events = await Promise.all([2, 3, 4].map((line) => repo.eventByKey(key(RENEWALS, line))));
    assert.deepEqual(events.map((e) => [e?.type, e?.correlationValue]), [
      ['subscription.expiring', 'sub-1'],
      ['subscription.expiring', 'sub-2'],
      ['subscription.expiring', 'sub-3'],
    ]);
    assert.deepEqual(events[1]?.data, { subscriptionId: 'sub-2', plan: 'Basic', dueAt: '2030-07-01T00:00:00Z' });
    assert.equal(events[1]?.locale, 'zh-CN');
    assert.equal(await repo.eventByKey(key(RENEWALS, 5)), undefined);
    assert.equal(await repo.eventByKey(key(RENEWALS, 6)), undefined);
    const crm2 = await t.hub.storage.customers.byExternalId('crm-2');
    assert.ok(crm2);
    assert.equal(events[1]?.customerId, crm2.id);
    assert.deepEqual((await t.hub.storage.customers.identitiesOf(crm2.id)).map((i) => [i.channel, i.platformUserId]), [['telegram', 'tg-222']]);

    const again = await cli([RENEWALS, '--type', 'subscription.expiring', ...MAP, '--url', t.hub.url], env);
    assert.equal(again.code, 1, again.err);
    assert.match(again.out, /^5 rows: 0 accepted, 3 already imported, 2 bad \(skipped\), 0 failed$/m);
    assert.deepEqual(lastJson(again.out), { rows: 5, accepted: 0, alreadyImported: 3, failed: 0, bad: 2 });
    const same = await Promise.all([2, 3, 4].map((line) => repo.eventByKey(key(RENEWALS, line))));
    assert.deepEqual(same.map((e) => e?.id), events.map((e) => e?.id));
    for (const e of events) assert.equal((await repo.runsOfEvent(e?.id ?? '')).length, 1, 'one run per event, none started again');
  });

  it('a cell is converted to its field\'s type; a non-number amount is reported (dry run: nothing posted)', async () => {
    const r = await cli([FLAGGED, '--type', 'transaction.flagged', '--dry-run'], {});
    assert.equal(r.code, 1, r.err);
    assert.equal(r.err, `${FLAGGED}:3: data.amount: must be a number (cell "12;50")\n`);
    assert.deepEqual(lastJson(r.out), { rows: 2, valid: 1, bad: 1, dryRun: true });
    assert.equal(await t.hub.storage.workflowRuns.eventByKey(key(FLAGGED, 2)), undefined);
  });

  it('without SWITCHBOARD_TOKEN: exit 2 naming it; an unknown type or column: exit 2 naming it', async () => {
    const none = await cli([RENEWALS, '--type', 'subscription.expiring', ...MAP, '--url', t.hub.url], {});
    assert.equal(none.code, 2);
    assert.match(none.err, /SWITCHBOARD_TOKEN is not set/);
    assert.equal(none.out, '');
    const type = await cli([RENEWALS, '--type', 'subscription.gone', '--dry-run'], {});
    assert.equal(type.code, 2);
    assert.match(type.err, /--type subscription\.gone: .*subscription\.expiring/);
    const col = await cli([RENEWALS, '--type', 'subscription.expiring', '--map', 'nope=data.plan', '--dry-run'], {});
    assert.equal(col.code, 2);
    assert.match(col.err, /has no column nope/);
  });
});
