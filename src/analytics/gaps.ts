/**
 * Knowledge gaps: the questions the bot escalated or answered with low confidence, grouped into
 * clusters of similar questions. Greedy single pass, oldest first: a question joins the cluster
 * whose first question ("leader") shares the most of its terms, when their Jaccard index reaches
 * `CLUSTER_JACCARD`; otherwise it leads a new cluster. An inverted index from term to clusters keeps
 * it near-linear (5,000 questions in a few milliseconds). A cluster's id hashes its leader's terms,
 * so the same range gives the same ids (the draft action finds its cluster again).
 */
import { createHash } from 'node:crypto';
import type { QuestionRow } from '../core/storage/analytics-kpis.js';
import { jaccard, termSet } from './terms.js';

export const CLUSTER_JACCARD = 0.4;

export interface GapCluster {
  id: string;
  /** The cluster's most frequent question (newest on a tie). */
  label: string;
  /** The most frequent terms of its questions. */
  keywords: string[];
  count: number;
  escalated: number;
  lowConfidence: number;
  channels: Record<string, number>;
  /** Up to three distinct questions, newest first. */
  examples: string[];
  lastAt: number;
  /** A person's first reply to one of these questions (a draft answer), when there is one. */
  agentAnswer: string | null;
  /** The conversation of the newest question. */
  conversationId: string;
}

interface Work {
  leader: Set<string>;
  leaderKey: string;
  rows: QuestionRow[];
}

export function clusterQuestions(rows: readonly QuestionRow[]): GapCluster[] {
  const ordered = [...rows].sort((a, b) => a.at - b.at || a.event_id - b.event_id);
  const clusters: Work[] = [];
  const byTerm = new Map<string, number[]>();
  for (const r of ordered) {
    const terms = termSet(r.terms);
    const key = terms.size > 0 ? [...terms].join(' ') : `text:${r.text.trim().toLowerCase()}`;
    let best = -1;
    let bestScore = 0;
    const seen = new Set<number>();
    for (const t of terms) {
      for (const i of byTerm.get(t) ?? []) {
        if (seen.has(i)) continue;
        seen.add(i);
        const score = jaccard(terms, (clusters[i] as Work).leader);
        if (score > bestScore) {
          bestScore = score;
          best = i;
        }
      }
    }
    if (terms.size === 0) best = clusters.findIndex((c) => c.leaderKey === key);
    if (best >= 0 && (terms.size === 0 || bestScore >= CLUSTER_JACCARD)) {
      (clusters[best] as Work).rows.push(r);
      continue;
    }
    clusters.push({ leader: terms, leaderKey: key, rows: [r] });
    for (const t of terms) byTerm.set(t, [...(byTerm.get(t) ?? []), clusters.length - 1]);
  }
  return clusters.map(summarize).sort((a, b) => b.count - a.count || b.lastAt - a.lastAt);
}

function summarize(c: Work): GapCluster {
  const freq = new Map<string, number>();
  const channels: Record<string, number> = {};
  let escalated = 0;
  for (const r of c.rows) {
    for (const t of termSet(r.terms)) freq.set(t, (freq.get(t) ?? 0) + 1);
    channels[r.channel] = (channels[r.channel] ?? 0) + 1;
    if (r.kind === 'escalated') escalated++;
  }
  const newest = [...c.rows].sort((a, b) => b.at - a.at);
  const examples: string[] = [];
  for (const r of newest) {
    const t = r.text.trim();
    if (t && !examples.includes(t)) examples.push(t);
    if (examples.length === 3) break;
  }
  const keywords = [...freq.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, 3)
    .map(([t]) => t);
  const asked = new Map<string, number>();
  for (const r of newest) asked.set(r.text.trim(), (asked.get(r.text.trim()) ?? 0) + 1);
  const label = [...asked.entries()].reduce<[string, number]>((best, e) => (e[1] > best[1] ? e : best), ['', 0])[0];
  const first = newest[0] as QuestionRow;
  return {
    id: createHash('sha256').update(c.leaderKey).digest('hex').slice(0, 12),
    label: label.slice(0, 200),
    keywords,
    count: c.rows.length,
    escalated,
    lowConfidence: c.rows.length - escalated,
    channels,
    examples,
    lastAt: first.at,
    agentAnswer: newest.find((r) => r.agent_answer)?.agent_answer ?? null,
    conversationId: first.conversation_id,
  };
}
