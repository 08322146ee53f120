import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { KnowledgeBot } from '../../src/knowledge/bot.js';
import { SoftmaxClassifier, defaultTrainOptions } from '../../src/knowledge/classifier.js';
import { botConfigSchema } from '../../src/knowledge/config.js';
import { decide, underspecified } from '../../src/knowledge/decide.js';
import { Engine, defaultEngineOptions, type Ranked } from '../../src/knowledge/engine.js';
import { AnalysisCache } from '../../src/knowledge/feature-fit.js';
import { Group, featureKey, type SparseVec } from '../../src/knowledge/features.js';
import { NumberVocabBuilder } from '../../src/knowledge/hash-vocab.js';
import { FIXTURES, turn } from './helpers.js';

let bot: KnowledgeBot;

before(async () => {
  bot = await KnowledgeBot.create({ dir: join(FIXTURES, 'shop'), bot: botConfigSchema.parse({}) });
});
after(async () => {
  await bot.close();
});

const entries = [
  { id: 'card_arrival', questions: ['when will my card arrive', 'my card has not arrived yet', 'how long does card delivery take'] },
  { id: 'card_activate', questions: ['how do i activate my card', 'activate the new card', 'card activation steps'] },
  { id: 'exchange_rate', questions: ['what exchange rate do you use', 'is the exchange rate fair', 'currency conversion rate'] },
];

test('classifier mode: the best-example cosine is exact for the top entries and names the matching example', async () => {
  const engine = await Engine.build(entries, { yieldEveryMs: null });
  const [top] = engine.rank('activate the new card');
  assert.ok(top);
  assert.equal(top.id, 'card_activate');
  assert.equal(top.question, 'activate the new card');
  assert.ok(Math.abs(top.cosine - 1) < 1e-5, `cosine of a question with itself is 1, got ${top.cosine}`);
  // Round trip through the plain-data state (what the reload worker posts back) ranks the same.
  const copy = Engine.fromState(engine.state);
  assert.deepEqual(
    copy.rank('my card never arrived').map((r) => [r.id, r.cosine.toFixed(5)]),
    engine.rank('my card never arrived').map((r) => [r.id, r.cosine.toFixed(5)]),
  );
});

test('confidence is scaled by word coverage: words the base never saw lower it', async () => {
  const engine = await Engine.build(entries, { yieldEveryMs: null });
  const known = engine.rank('when will my card arrive')[0];
  assert.ok(known);
  assert.equal(known.coverage, 1);
  assert.ok(Math.abs(known.confidence - known.classifier) < 1e-9);
  const half = engine.rank('when will my parrot sing')[0];
  assert.ok(half);
  assert.ok(half.coverage > 0 && half.coverage < 1, `coverage ${half.coverage}`);
  assert.ok(Math.abs(half.confidence - half.classifier * half.coverage ** defaultEngineOptions.coverageExponent) < 1e-9);
});

test('off-topic questions with words the base never saw escalate instead of answering', async () => {
  for (const q of ["what's your favourite colour", 'what is photosynthesis', '加拿大有多少人口']) {
    const d = await bot.respond(turn(q));
    assert.equal(d.kind, 'escalate', `${q} -> ${JSON.stringify(d)}`);
  }
});

test('a one-word question close to examples of two entries is clarified, a specific one is answered', async () => {
  for (const q of ['refund', 'membership', '会员']) {
    const d = await bot.respond(turn(q));
    assert.equal(d.kind, 'clarify', `${q} -> ${JSON.stringify(d)}`);
  }
  const d = await bot.respond(turn('when will i get my refund'));
  assert.equal(d.kind, 'answer');
  assert.equal(d.entryIds?.[0], 'refund_status');
});

function ranked(over: Partial<Ranked>): Ranked {
  return { index: 0, id: 'a', score: 0.5, confidence: 0.5, coverage: 1, words: 1, classifier: 0.5, cosine: 0.5, bm25: 0.5, question: 'q', ...over };
}

test('decide: underspecified needs a one-word question, a plausible top and second, and close real cosines', () => {
  const t = { answerThreshold: 0.5, clarifyThreshold: 0.3, clarifyMargin: 0.2 };
  const top = ranked({ id: 'a', confidence: 0.8, cosine: 0.5, words: 1 });
  const second = ranked({ id: 'b', confidence: 0.15, cosine: 0.45, words: 1 });
  assert.ok(underspecified(top, second));
  assert.equal(decide([top, second], t).kind, 'clarify');
  assert.equal(decide([{ ...top, words: 5 }, { ...second, words: 5 }], t).kind, 'answer');
  assert.equal(decide([top, { ...second, cosine: 0.2 }], t).kind, 'answer');
  assert.equal(decide([top, { ...second, confidence: 0.01 }], t).kind, 'answer');
  assert.equal(decide([{ ...top, confidence: 0.4, words: 5 }, { ...second, confidence: 0.05, words: 5 }], t).kind, 'escalate');
  // An off-topic word: the top entry is below clarifyThreshold, so it escalates instead.
  assert.equal(decide([{ ...top, confidence: 0.2 }, { ...second, confidence: 0.1 }], t).kind, 'escalate');
  // Cosines of 0 (pruned index of a very large base) are not "close".
  assert.equal(underspecified({ ...top, cosine: 0 }, { ...second, cosine: 0 }), false);
});

test('class-balanced training: a rare class is not drowned by a frequent one on shared words', async () => {
  // Feature 0 is shared; feature 1 marks class 0 (20 examples), feature 2 marks class 1 (2 examples).
  const v = (idx: number[], val: number[]): SparseVec => ({ idx: Int32Array.from(idx), val: Float32Array.from(val) });
  const xs: SparseVec[] = [];
  const ys: number[] = [];
  for (let i = 0; i < 20; i++) {
    xs.push(v([0, 1], [0.8, 0.6]));
    ys.push(0);
  }
  for (let i = 0; i < 2; i++) {
    xs.push(v([0, 2], [0.8, 0.6]));
    ys.push(1);
  }
  const shared = v([0], [1]);
  const prob = async (balance: 'none' | 'weight'): Promise<number> => {
    const c = await SoftmaxClassifier.train(xs, Int32Array.from(ys), 2, 3, { ...defaultTrainOptions, dropout: 0, balance }, () => undefined);
    const out = new Float64Array(2);
    c.predict(shared, out);
    const [, rare] = out;
    assert.ok(rare !== undefined);
    return rare;
  };
  const plain = await prob('none');
  const balanced = await prob('weight');
  assert.ok(plain < 0.3, `unbalanced: the frequent class takes the shared word (p=${plain})`);
  assert.ok(balanced > plain + 0.15 && balanced > 0.35, `balanced: p(rare)=${balanced} vs ${plain}`);
});

test('Chinese homophone typos (pinyin input) still reach the right entry', async () => {
  const engine = await Engine.build(
    [
      { id: 'order', questions: ['订单怎么查'] },
      { id: 'bill', questions: ['账单怎么查'] },
      { id: 'refund', questions: ['会员怎么退费'] },
      { id: 'renew', questions: ['会员怎么续费'] },
    ],
    { yieldEveryMs: null },
  );
  // 帐 for 账 (both zhang), 叙 for 续 (both xu): the characters differ, the pinyin does not.
  for (const [q, want] of [
    ['帐单怎么查', 'bill'],
    ['会员怎么叙费', 'renew'],
  ] as const) {
    const [top, second] = engine.rank(q);
    assert.ok(top && second, q);
    assert.equal(top.id, want, q);
    assert.ok(top.classifier - second.classifier > 0.4, `${q}: ${top.classifier} vs ${second.classifier}`);
  }
});

test('one-typo words and ids keep full coverage; unknown words lose it', async () => {
  const engine = await Engine.build(
    [
      { id: 'cancel_transfer', questions: ['how do i cancel a transfer', 'cancel my transfer please', 'stop the transfer i just made'] },
      { id: 'lost_card', questions: ['my card was stolen', 'i lost my card', 'report a stolen card'] },
    ],
    { yieldEveryMs: null },
  );
  // Deletion, swap, insertion, substitution: each one edit from "transfer" / "cancel".
  for (const q of ['cancel transfr', 'cancel trasnfer', 'cancel transfeer', 'cancel tronsfer', 'cancl my transfer']) {
    const top = engine.rank(q)[0];
    assert.ok(top, q);
    assert.equal(top.id, 'cancel_transfer', q);
    assert.equal(top.coverage, 1, `${q}: coverage ${top.coverage}`);
  }
  // Numbers (amounts, ids) do not count either way.
  assert.equal(engine.rank('cancel my transfer 48213')[0]?.coverage, 1);
  const offTopic = engine.rank('what is photosynthesis')[0];
  assert.ok(offTopic && offTopic.coverage < 0.7, `off-topic coverage ${offTopic?.coverage}`);
  // Two edits away is not a typo of a known word.
  const twoEdits = engine.rank('cancel trnsfre')[0];
  assert.ok(twoEdits && twoEdits.coverage < 1);
});

test('bases with enough examples add the small network: it trains, ranks, and survives the state round trip', async () => {
  const many = [
    { id: 'card_arrival', questions: ['when will my card arrive', 'my card has not arrived yet', 'how long does card delivery take', 'card still not here', 'is my card on its way'] },
    { id: 'card_activate', questions: ['how do i activate my card', 'activate the new card', 'card activation steps', 'turn on my new card', 'start using my card'] },
    { id: 'exchange_rate', questions: ['what exchange rate do you use', 'is the exchange rate fair', 'currency conversion rate', 'rate for euros', 'how do you convert currency'] },
  ];
  const opts = { yieldEveryMs: null, mlp: { ...defaultEngineOptions.mlp!, minExamples: 10, minSteps: 3000 } };
  const withNet = await Engine.build(many, opts);
  const plain = await Engine.build(many, { ...opts, mlp: null });
  assert.ok(withNet.state.mlp, 'the network is part of the state');
  assert.equal(plain.state.mlp, null);
  const q = 'my card never arrived';
  const [top] = withNet.rank(q);
  assert.ok(top);
  assert.equal(top.id, 'card_arrival');
  // Confidence is the mean of both models' probabilities, so it differs from the classifier's alone.
  assert.notEqual(top.confidence, top.classifier * top.coverage);
  const copy = Engine.fromState(structuredClone(withNet.state));
  assert.deepEqual(
    copy.rank(q).map((r) => [r.id, r.score.toFixed(6), r.confidence.toFixed(6)]),
    withNet.rank(q).map((r) => [r.id, r.score.toFixed(6), r.confidence.toFixed(6)]),
  );
  // Below minExamples the engine keeps the softmax classifier alone.
  const small = await Engine.build(many, { yieldEveryMs: null });
  assert.equal(small.state.mlp, null);
});

test('a build that reuses the last build\'s analyses ranks exactly like a fresh build', async () => {
  const cache = new AnalysisCache();
  await Engine.build(entries, { yieldEveryMs: null }, cache);
  // One question edited, one entry added, as in a hot reload after an edit.
  const edited = [
    ...entries.map((e, i) => (i === 0 ? { ...e, questions: [...e.questions.slice(1), 'where is my new card'] } : e)),
    { id: 'pin', questions: ['i forgot my card pin', 'change my pin'] },
  ];
  const reused = await Engine.build(edited, { yieldEveryMs: null }, cache);
  const fresh = await Engine.build(edited, { yieldEveryMs: null });
  for (const q of ['where is my card', 'activate card', 'exchange rate', 'card pin', 'when will my card arrive']) {
    assert.deepEqual(reused.rank(q, 4), fresh.rank(q, 4), q);
  }
  // The reused build really took the cached analyses (the same objects).
  assert.equal(cache.analyze('activate the new card'), cache.analyze('activate the new card'));
});

test('the growing feature-key table keeps first-sight ids through growth and finds every key', () => {
  const b = new NumberVocabBuilder();
  const keys: number[] = [];
  for (let i = 0; i < 5000; i++) keys.push(featureKey(Group.Char, `k${i}`), featureKey(Group.Word, `k${i}`));
  keys.forEach((k, i) => assert.equal(b.intern(k), i));
  keys.forEach((k, i) => assert.equal(b.intern(k), i, 'the same id again'));
  assert.equal(b.size, keys.length);
  const vocab = b.vocab();
  keys.forEach((k, i) => assert.equal(vocab.getNumber(k), i));
  assert.equal(vocab.getNumber(featureKey(Group.Char, 'never added')), undefined);
});
