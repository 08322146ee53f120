/**
 * Pending answers (agents' "Save answer", approved into the knowledge files by an admin): stored in
 * the database on both dialects, once per idempotency key, reviewed once.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openDb } from '../../src/core/storage/db.js';
import { Storage } from '../../src/core/storage/storage.js';
import { ManualClock } from '../../src/core/clock.js';
import type { ProposedAnswer } from '../../src/core/storage/pending-answers.js';
import { DIALECTS, makeDb, type TestDb } from '../helpers/env.js';

function proposal(n: number, more: Partial<ProposedAnswer> = {}): ProposedAnswer {
  return {
    key: `message:m${n}`,
    question: `question ${n}?`,
    answer: `answer ${n} 答案`,
    locale: 'en',
    conversationId: `conv-${n}`,
    proposedBy: 'slack:UDANA',
    proposedByName: 'Dana',
    ...more,
  };
}

for (const dialect of DIALECTS) {
  describe(`pending answers (${dialect})`, () => {
    let tdb: TestDb;
    let storage: Storage;
    const clock = new ManualClock(Date.UTC(2026, 10, 1));
    before(async () => {
      tdb = await makeDb(dialect);
      storage = await Storage.open(tdb.url, { clock });
    });
    after(async () => {
      await storage.close();
      await tdb.drop();
    });

    it('the table comes through the migrations registry as knowledge:001_pending_answers', async () => {
      const db = openDb(tdb.url);
      try {
        const names = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(db.kysely);
        assert.ok(names.rows.some((r) => r.name === 'knowledge:001_pending_answers'), JSON.stringify(names.rows));
      } finally {
        await db.close();
      }
    });

    it('a proposal is stored pending with who and when; the same key (a redelivered save) stores it once', async () => {
      const first = await storage.pendingAnswers.propose(proposal(1));
      assert.equal(first.created, true);
      assert.equal(first.answer.status, 'pending');
      assert.equal(first.answer.question, 'question 1?');
      assert.equal(first.answer.answer, 'answer 1 答案');
      assert.equal(first.answer.proposedBy, 'slack:UDANA');
      assert.equal(first.answer.proposedByName, 'Dana');
      assert.equal(first.answer.createdAt, clock.now());
      assert.equal(first.answer.reviewedAt, null);
      const again = await storage.pendingAnswers.propose(proposal(1, { answer: 'changed' }));
      assert.equal(again.created, false);
      assert.equal(again.answer.id, first.answer.id);
      assert.equal(again.answer.answer, 'answer 1 答案', 'the first proposal stays');
      assert.equal((await storage.pendingAnswers.list('pending')).filter((a) => a.key === 'message:m1').length, 1);
    });

    it('concurrent proposals of one key (two workers) store one row; different keys get their own ids', async () => {
      const res = await Promise.all([2, 2, 2, 3, 4].map((n) => storage.pendingAnswers.propose(proposal(n, { proposedByName: undefined }))));
      assert.equal(res.filter((r) => r.created).length, 3);
      assert.equal(new Set(res.slice(0, 3).map((r) => r.answer.id)).size, 1);
      assert.equal(new Set(res.map((r) => r.answer.id)).size, 3);
      assert.equal(res[3]?.answer.proposedByName, null);
    });

    it('inside a transaction, through the same repositories', async () => {
      const id = await storage.transaction(async (tx) => (await tx.pendingAnswers.propose(proposal(5))).answer.id);
      assert.equal((await storage.pendingAnswers.get(id))?.key, 'message:m5');
    });

    it('a pending answer is approved or rejected once; the listing filters by status, oldest first', async () => {
      const a = (await storage.pendingAnswers.propose(proposal(10))).answer;
      const b = (await storage.pendingAnswers.propose(proposal(11))).answer;
      clock.advance(60_000);
      assert.equal(await storage.pendingAnswers.review(a.id, { status: 'approved', entryId: `learned-${a.id}`, by: 'alice' }), true);
      assert.equal(await storage.pendingAnswers.review(a.id, { status: 'rejected', by: 'bob' }), false, 'already approved');
      assert.equal(await storage.pendingAnswers.review(b.id, { status: 'rejected', by: 'bob' }), true);
      assert.equal(await storage.pendingAnswers.review(b.id, { status: 'approved', entryId: 'x', by: 'alice' }), false, 'already rejected');
      assert.equal(await storage.pendingAnswers.review(999_999, { status: 'rejected', by: 'bob' }), false, 'unknown id');
      const approved = await storage.pendingAnswers.get(a.id);
      assert.deepEqual(
        { status: approved?.status, by: approved?.reviewedBy, at: approved?.reviewedAt, entry: approved?.entryId },
        { status: 'approved', by: 'alice', at: clock.now(), entry: `learned-${a.id}` },
      );
      assert.equal((await storage.pendingAnswers.get(b.id))?.status, 'rejected');
      assert.equal((await storage.pendingAnswers.get(b.id))?.entryId, null);
      const pending = await storage.pendingAnswers.list('pending');
      assert.ok(!pending.some((p) => p.id === a.id || p.id === b.id));
      assert.deepEqual(pending.map((p) => p.id), [...pending.map((p) => p.id)].sort((x, y) => x - y));
      assert.deepEqual((await storage.pendingAnswers.list('approved')).map((p) => p.id), [a.id]);
      assert.equal((await storage.pendingAnswers.list()).length, pending.length + 2);
      assert.equal(await storage.pendingAnswers.get(999_999), undefined);
    });
  });
}
