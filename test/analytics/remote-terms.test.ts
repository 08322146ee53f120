/**
 * Question terms asked of the hub's thread (src/analytics/remote-terms.ts): the feed's thread gets
 * the same terms the hub computes, without loading jieba itself; with nobody answering it computes
 * them itself; and a rebuild whose fold met unknown texts writes nothing until it has their terms,
 * then writes the same rows a rebuild with local terms writes (both databases).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RemoteTerms, serveTerms } from '../../src/analytics/remote-terms.js';
import { questionTerms } from '../../src/analytics/terms.js';
import { defaultFoldOptions, rebuildConversation } from '../../src/analytics/rebuild.js';
import type { FoldOptions } from '../../src/analytics/fold.js';
import type { AnalyticsCase } from '../../src/core/storage/analytics.js';
import type { Storage } from '../../src/core/storage/storage.js';
import { DIALECTS, makeDb, uniqueName } from '../helpers/env.js';
import { seededStore } from './seed.js';

const ZH = '我的订单什么时候发货';
const EN = 'How do I reset my password?';

describe('question terms from the hub\'s thread', () => {
  it('are the terms the hub computes, known only once fetched', async () => {
    const name = uniqueName('terms');
    const served = serveTerms(name);
    const remote = new RemoteTerms(name);
    try {
      assert.equal(remote.terms(ZH), undefined);
      await remote.fetchTerms([ZH, EN, ZH]);
      assert.equal(remote.terms(ZH), questionTerms(ZH));
      assert.equal(remote.terms(EN), questionTerms(EN));
      assert.ok((remote.terms(ZH) ?? '').includes('订单'), remote.terms(ZH));
      assert.equal(remote.computedHere, 0, 'the hub answered');
    } finally {
      remote.close();
      served.close();
    }
  });

  it('are computed in the asking thread when nobody answers in time', async () => {
    const remote = new RemoteTerms(uniqueName('nobody'), 100);
    try {
      await remote.fetchTerms([ZH]);
      assert.equal(remote.terms(ZH), questionTerms(ZH));
      assert.equal(remote.computedHere, 1);
    } finally {
      remote.close();
    }
  });
});

/** Every case of the seeded history, by question. */
async function casesByQuestion(storage: Storage): Promise<Map<string, AnalyticsCase>> {
  const out = new Map<string, AnalyticsCase>();
  for (const id of await storage.analytics.conversationIds(null, 100)) {
    const src = await storage.analytics.source(id);
    if (!src) continue;
    for (const c of await storage.analytics.customerCases(src.customerId, 0)) out.set(c.question, c);
  }
  return out;
}

/** The cases of one conversation. */
async function casesOf(storage: Storage, conversationId: string): Promise<AnalyticsCase[]> {
  const src = await storage.analytics.source(conversationId);
  return src ? (await storage.analytics.customerCases(src.customerId, 0)).filter((c) => c.conversationId === conversationId) : [];
}

for (const dialect of DIALECTS) {
  describe(`a rebuild whose fold meets unknown terms (${dialect})`, () => {
    it('writes nothing until it has them, then the rows a rebuild with local terms writes', async () => {
      const seeded = await seededStore(await makeDb(dialect), { feed: false });
      try {
        const { storage } = seeded;
        const ids = await storage.analytics.conversationIds(null, 100);
        const known = new Map<string, string>();
        const fetched: string[][] = [];
        const writtenAtFetch: number[] = [];
        let current = '';
        const opts: FoldOptions = {
          ...defaultFoldOptions,
          terms: (text) => known.get(text),
          fetchTerms: async (texts) => {
            fetched.push([...texts]);
            // The conversation's rows as the fold that missed these left them.
            writtenAtFetch.push((await casesOf(storage, current)).length);
            for (const t of texts) known.set(t, questionTerms(t));
          },
        };
        for (const id of ids) {
          current = id;
          await rebuildConversation(storage, id, opts);
        }
        assert.equal(fetched.length, ids.length, `one fetch per conversation: ${JSON.stringify(fetched)}`);
        assert.ok(fetched.flat().includes(ZH), JSON.stringify(fetched));
        assert.deepEqual(writtenAtFetch, ids.map(() => 0), 'a fold that missed terms wrote no row');
        assert.equal((await casesOf(storage, current)).length > 0, true, 'the second fold wrote them');
        const remote = await casesByQuestion(storage);
        for (const id of ids) await rebuildConversation(storage, id, defaultFoldOptions);
        const local = await casesByQuestion(storage);
        assert.equal(remote.size, 4);
        assert.deepEqual([...remote.entries()].sort(), [...local.entries()].sort());
        assert.equal(remote.get(ZH)?.questionTerms, questionTerms(ZH));
        assert.notEqual(questionTerms(ZH), '');
      } finally {
        await seeded.close();
      }
    });
  });
}
