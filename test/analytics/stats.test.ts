/**
 * The statistics under the KPIs and the knowledge-gap clusters: interpolated percentiles, the
 * histogram percentiles of large ranges within 2 % of the exact ones, "the same thing", and
 * clusters of similar questions in Chinese and English.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { quantile, spread, spreadOfHistogram } from '../../src/analytics/stats.js';
import { BINS_PER_E } from '../../src/core/storage/analytics-kpis.js';
import { clusterQuestions } from '../../src/analytics/gaps.js';
import { toCsv } from '../../src/analytics/csv.js';
import { questionTerms, sameThing } from '../../src/analytics/terms.js';
import type { QuestionRow } from '../../src/core/storage/analytics-kpis.js';

describe('analytics statistics', () => {
  it('percentiles interpolate between neighbouring ranks (PostgreSQL percentile_cont)', () => {
    assert.equal(quantile([1000, 2000, 3000, 3000], 0.5), 2500);
    assert.equal(quantile([720_000, 1_800_000], 0.9), 1_692_000);
    assert.deepEqual(spread([]), { count: 0, median: null, p90: null });
    assert.deepEqual(spread([7]), { count: 1, median: 7, p90: 7 });
  });

  it('histogram percentiles are within 2 % of the exact ones', () => {
    let seed = 42;
    const rnd = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    const values = Array.from({ length: 50_000 }, () => Math.round(Math.exp(Math.log(2000) + 2.5 * (rnd() + rnd() + rnd() - 1.5))));
    const bins = new Map<number, number>();
    for (const v of values) {
      const bin = Math.round(Math.log(v + 1) * BINS_PER_E);
      bins.set(bin, (bins.get(bin) ?? 0) + 1);
    }
    const exact = spread(values);
    const approx = spreadOfHistogram([...bins].map(([bin, n]) => ({ bin, n })), BINS_PER_E);
    assert.equal(approx.count, exact.count);
    for (const k of ['median', 'p90'] as const) {
      const e = exact[k] as number;
      const a = approx[k] as number;
      assert.ok(Math.abs(a - e) / e < 0.02, `${k}: ${a} vs ${e}`);
    }
  });

  it("CSV: a BOM, a header, quoted cells, and no formula from a customer's text", () => {
    const csv = toCsv(['question', 'n', 'none'], [['=HYPERLINK("http://x")', 3, null], ['a, "b"', -1, undefined], ['订单 @发货', 0, '']]);
    assert.equal(csv, '\uFEFFquestion,n,none\n"\'=HYPERLINK(""http://x"")",3,\n"a, ""b""",-1,\n订单 @发货,0,\n');
  });

  it('the same thing: a common knowledge entry, else question terms overlapping by half', () => {
    const q = (entryIds: string[], text: string) => ({ entryIds, questionTerms: questionTerms(text) });
    assert.equal(sameThing(q(['order-ship'], 'when will it ship'), q(['order-ship', 'x'], 'parcel?')), true);
    assert.equal(sameThing(q(['order-ship'], '订单什么时候发货'), q(['refund'], '订单什么时候发货')), false);
    assert.equal(sameThing(q([], '我的订单什么时候发货'), q([], '订单什么时候发货呀')), true);
    assert.equal(sameThing(q([], 'Do you ship to Iceland?'), q([], 'How do I reset my password?')), false);
  });

  it('clusters similar questions (Chinese and English) with counts, examples and stable ids', () => {
    const texts = ['可以用数字人民币付款吗', '数字人民币支付支持吗', '支持数字人民币付款吗', 'Do you ship to Iceland?', 'Can you ship to Iceland', 'Is the warranty valid abroad?'];
    const rows: QuestionRow[] = texts.map((text, i) => ({
      event_id: i + 1,
      case_id: `c${i}`,
      conversation_id: `v${i}`,
      channel: i % 2 ? 'telegram' : 'webchat',
      at: 1_000 + i,
      kind: i === 0 ? 'escalated' : 'low_confidence',
      reason: null,
      confidence: 0.2,
      text,
      terms: questionTerms(text),
      agent_answer: i === 0 ? '可以，支持数字人民币。' : null,
    }));
    const clusters = clusterQuestions(rows);
    assert.deepEqual(
      clusters.map((c) => [c.count, c.examples.length]),
      [
        [3, 3],
        [2, 2],
        [1, 1],
      ],
    );
    assert.equal(clusters[0]?.escalated, 1);
    assert.equal(clusters[0]?.agentAnswer, '可以，支持数字人民币。');
    assert.match(clusters[0]?.label ?? '', /人民币/);
    assert.deepEqual(clusters[0]?.channels, { webchat: 2, telegram: 1 });
    assert.deepEqual(clusterQuestions(rows).map((c) => c.id), clusters.map((c) => c.id));
  });
});
