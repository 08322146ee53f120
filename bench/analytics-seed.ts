/**
 * Seeds a realistic service history for the analytics bench (and the dashboard screenshot): N
 * customer and hub messages in `messages`, their customers and conversations, and the analytics
 * read models as the real fold (src/analytics/fold.ts) builds them from each conversation's
 * events and messages: bulk inserts (SQLite: one transaction of multi-row INSERTs; PostgreSQL:
 * INSERT … SELECT FROM unnest(arrays), 5,000 rows a statement). Deterministic (seeded PRNG).
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Db } from '../src/core/storage/db.js';
import type { StoredEvent } from '../src/core/events.js';
import { caseToRow, type AnalyticsCase, type AnalyticsSource, type SourceMessage } from '../src/core/storage/analytics.js';
import { HOURLY_COUNTERS, addCase, addVolume, changed, type HourlyDeltas } from '../src/core/storage/analytics-hourly.js';
import { foldConversation } from '../src/analytics/fold.js';
import { cameBack, defaultFoldOptions } from '../src/analytics/rebuild.js';
import { questionTerms } from '../src/analytics/terms.js';
import { seededRandom } from '../src/knowledge/rng.js';

const DAY = 86_400_000;
const MIN = 60_000;

/** The knowledge engine's seeded PRNG (mulberry32): the same history every run. */
export const prng = seededRandom;

/** Questions the bot knows (entry id, text) and questions it does not (knowledge gaps). */
const KNOWN: [string, string][] = [
  ['order-ship', '我的订单什么时候发货'],
  ['order-ship', 'When will my order ship?'],
  ['order-track', '快递到哪里了'],
  ['order-track', 'Where is my parcel?'],
  ['refund', '怎么申请退款'],
  ['refund', 'How do I get a refund?'],
  ['invoice', '发票怎么开'],
  ['invoice', 'Can I get an invoice?'],
  ['password', '忘记密码怎么办'],
  ['password', 'I forgot my password'],
  ['hours', '你们几点上班'],
  ['address', 'How do I change my delivery address?'],
];
const UNKNOWN = [
  '可以用数字人民币付款吗',
  '数字人民币支付支持吗',
  'Do you ship to Iceland?',
  'Can you ship to Iceland',
  '会员积分可以转给家人吗',
  '积分能转给别人吗',
  'Is the warranty valid abroad?',
  'does the warranty work in other countries',
  '发票抬头写错了能改吗',
  '开错发票抬头怎么改',
];
const REASONS = ['low_confidence', 'asked_for_human', 'asked_for_human', 'three_strikes', 'angry', 'low_confidence'];

export interface SeedOptions {
  messages: number;
  days: number;
  /** The last day of the history (epoch ms, exclusive). */
  end: number;
  channels: readonly string[];
  seed?: number;
}

export interface SeedCounts {
  messages: number;
  conversations: number;
  customers: number;
  cases: number;
  volume: number;
  hourly: number;
  questions: number;
  proactive: number;
}

type Col = 'text' | 'bigint' | 'int' | 'float';
type Row = Record<string, string | number | null>;

/** Bulk insert of `rows` into `table` (columns typed for PostgreSQL's unnest). */
export async function bulkInsert(db: Pick<Db, 'dialect'> & { kysely: Kysely<never> }, table: string, cols: Record<string, Col>, rows: readonly Row[]): Promise<void> {
  const names = Object.keys(cols);
  const k = db.kysely as unknown as Kysely<Record<string, Row>>;
  if (rows.length === 0) return;
  if (db.dialect === 'postgres') {
    const cast: Record<Col, RawBuilder<unknown>> = { text: sql`text[]`, bigint: sql`bigint[]`, int: sql`int[]`, float: sql`double precision[]` };
    for (let i = 0; i < rows.length; i += 5000) {
      const chunk = rows.slice(i, i + 5000);
      const arrays = names.map((n) => sql`${chunk.map((r) => r[n] ?? null)}::${cast[cols[n] as Col]}`);
      await sql`insert into ${sql.table(table)} (${sql.join(names.map((n) => sql.ref(n)))}) select * from unnest(${sql.join(arrays)})`.execute(k);
    }
    return;
  }
  const per = Math.max(1, Math.floor(30_000 / names.length));
  for (let i = 0; i < rows.length; i += per) await k.insertInto(table).values(rows.slice(i, i + per)).execute();
}

const MESSAGE_COLS: Record<string, Col> = {
  id: 'text', conversation_id: 'text', customer_id: 'text', direction: 'text', author: 'text', author_name: 'text', channel: 'text', dedupe_key: 'text',
  platform_message_id: 'text', kind: 'text', text: 'text', attachments: 'text', buttons: 'text', ref: 'text', delivery_status: 'text', sent_parts: 'text',
  error: 'text', caused_by: 'text', processed_at: 'bigint', created_at: 'bigint', sent_at: 'bigint',
};
const CASE_COLS: Record<string, Col> = {
  id: 'text', conversation_id: 'text', customer_id: 'text', channel: 'text', first_event_id: 'bigint', opened_at: 'bigint', last_customer_at: 'bigint', messages_in: 'int',
  messages_out: 'int', bot_answers: 'int', bot_first_response_ms: 'bigint', min_confidence: 'float', escalated_at: 'bigint', escalation_reason: 'text',
  agent_first_response_ms: 'bigint', resolved_at: 'bigint', bot_first_response_bin: 'int', agent_first_response_bin: 'int', resolution_bin: 'int', reopens: 'int', csat_asked: 'int', csat_score: 'int', csat_count: 'int', came_back: 'int',
  entry_ids: 'text', question: 'text', question_terms: 'text',
};

/** Writes the history; returns the row counts. */
export async function seedAnalytics(db: Db, o: SeedOptions): Promise<SeedCounts> {
  const rnd = prng(o.seed ?? 17);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
  const termsCache = new Map<string, string>();
  const opts = { ...defaultFoldOptions, terms: (t: string) => termsCache.get(t) ?? (termsCache.set(t, questionTerms(t)), termsCache.get(t) as string) };
  const start = o.end - o.days * DAY;
  const customers: string[] = [];
  const counts: SeedCounts = { messages: 0, conversations: 0, customers: 0, cases: 0, volume: 0, hourly: 0, questions: 0, proactive: 0 };
  let eventId = 0;
  let messages: Row[] = [];
  let convRows: Row[] = [];
  let cases: AnalyticsCase[] = [];
  let volume: Row[] = [];
  let questions: Row[] = [];
  let proactive: Row[] = [];
  const byCustomer = new Map<string, AnalyticsCase[]>();

  const hourly: HourlyDeltas = new Map();
  const flush = async (final: boolean) => {
    if (!final && messages.length < 50_000) return;
    // SQLite: one transaction per batch (a commit per statement is what makes bulk loads slow).
    await db.kysely.transaction().execute(async (trx) => write({ dialect: db.dialect, kysely: trx as unknown as Kysely<never> }, final));
  };
  const write = async (db: Pick<Db, 'dialect'> & { kysely: Kysely<never> }, final: boolean) => {
    await bulkInsert(db, 'customers', { id: 'text', consent: 'text', tags: 'text', created_at: 'bigint', updated_at: 'bigint' }, customers.splice(0).map((id) => ({ id, consent: '{}', tags: '[]', created_at: start, updated_at: start })));
    await bulkInsert(db, 'conversations', { id: 'text', customer_id: 'text', channel: 'text', status: 'text', strikes: 'int', bot_state: 'text', version: 'int', created_at: 'bigint', updated_at: 'bigint' }, convRows);
    await bulkInsert(db, 'messages', MESSAGE_COLS, messages);
    await bulkInsert(db, 'analytics_volume', { conversation_id: 'text', hour: 'bigint', channel: 'text', inbound: 'int', outbound: 'int' }, volume);
    await bulkInsert(db, 'analytics_questions', { event_id: 'bigint', case_id: 'text', conversation_id: 'text', channel: 'text', at: 'bigint', kind: 'text', reason: 'text', confidence: 'float', text: 'text', terms: 'text', agent_answer: 'text' }, questions);
    await bulkInsert(db, 'analytics_proactive', { message_id: 'text', event_id: 'bigint', conversation_id: 'text', customer_id: 'text', channel: 'text', kind: 'text', queued_at: 'bigint', answered_at: 'bigint', opted_out_at: 'bigint' }, proactive);
    messages = [];
    convRows = [];
    volume = [];
    questions = [];
    proactive = [];
    if (!final) return;
    // Cases last: whether the customer came back needs all of the customer's cases.
    for (const list of byCustomer.values()) for (const c of list) c.cameBack = cameBack(c, list);
    await bulkInsert(db, 'analytics_cases', CASE_COLS, cases.map(caseRow));
    // The hourly rollup, summed by the same functions a rebuild moves it with.
    for (const c of cases) addCase(hourly, c, 1);
    await bulkInsert(db, 'analytics_hourly', { hour: 'bigint', channel: 'text', ...Object.fromEntries(HOURLY_COUNTERS.map((c) => [c, 'bigint' as Col])) }, changed(hourly));
    cases = [];
  };

  while (counts.messages < o.messages) {
    const returning = customers.length > 0 && rnd() < 0.2 && counts.customers > 10;
    const customerId = returning ? `cus-${Math.floor(rnd() * counts.customers)}` : `cus-${counts.customers}`;
    if (!returning) {
      customers.push(customerId);
      counts.customers++;
    }
    const conversationId = randomUUID();
    const channel = pick(o.channels);
    // Busier in the day (UTC+8 office hours), a slow rise over the period.
    const day = Math.floor(Math.sqrt(rnd()) * o.days);
    const hour = (rnd() < 0.75 ? 1 + Math.floor(rnd() * 12) : Math.floor(rnd() * 24)) % 24;
    let t = start + day * DAY + hour * 3_600_000 + Math.floor(rnd() * 3_600_000);
    const msgs: SourceMessage[] = [];
    const events: StoredEvent[] = [];
    const ev = (type: string, at: number, payload: Record<string, unknown>) =>
      events.push({ id: String(++eventId), type, conversationId, customerId, actor: 'system', at, payload, dispatchedAt: at });
    const msg = (direction: 'in' | 'out', author: SourceMessage['author'], text: string, at: number, causedBy: string | null = null, sentAfter = 800): string => {
      const id = randomUUID();
      msgs.push({ id, direction, author, channel, text, causedBy, createdAt: at, sentAt: direction === 'out' ? at + sentAfter : null });
      if (direction === 'in') ev('message.received', at + 1, { messageId: id, channel, toAgent: false });
      return id;
    };
    if (rnd() < 0.04) {
      const id = msg('out', 'system', 'Your plan renews tomorrow. / 您的套餐明天续费。', t - 2 * 3_600_000);
      ev('message.queued', t - 2 * 3_600_000 + 1, { messageId: id, kind: pick(['reminder', 'reminder', 'alert', 'api']), key: id, channel });
    }
    const gap = rnd() < 0.15;
    const [entry, question] = gap ? ['', pick(UNKNOWN)] : pick(KNOWN);
    const q = msg('in', 'customer', question, t);
    const conf = gap ? 0.1 + rnd() * 0.35 : 0.55 + rnd() * 0.45;
    const escalate = gap ? rnd() < 0.6 : rnd() < 0.12;
    msg('out', 'bot', gap ? 'Let me check that for you.' : 'Here is what I found…', t + 300 + Math.floor(rnd() * 1500), q);
    ev('bot.answered', t + 400, { messageId: q, confidence: conf, entryIds: entry ? [entry] : [], sentiment: null });
    const turns = 1 + Math.floor(rnd() * 3);
    for (let i = 0; i < turns; i++) {
      t += Math.floor(rnd() * 3 * MIN);
      const f = msg('in', 'customer', pick(['好的', 'ok thanks', '还有别的办法吗', 'and then?']), t);
      msg('out', 'bot', 'Sure.', t + 500, f);
    }
    if (escalate) {
      t += 20_000;
      const h = msg('in', 'customer', pick(['转人工', 'a person please', '我要投诉']), t);
      ev('conversation.escalated', t + 10, { escalationId: h, reason: gap ? 'low_confidence' : pick(REASONS), priority: 'normal', messageId: q, sentiment: null });
      msg('out', 'system', 'A person will answer.', t + 20, h);
      const wait = Math.floor(Math.exp(Math.log(2 * MIN) + rnd() * 3) );
      msg('out', 'agent', gap ? 'We accept it from next month.' : 'Done, anything else?', t + wait);
      ev('agent.replied', t + wait, { messageId: 'x', agentId: 'ag', agentName: 'Dana', claimed: true });
      t += wait + Math.floor(rnd() * 20 * MIN);
      ev('conversation.resolved', t, { agentId: 'ag' });
      if (rnd() < 0.05) {
        const r = msg('in', 'customer', '还是不行', t + 5 * MIN);
        ev('conversation.reopened', t + 5 * MIN + 2, { messageId: r, assignee: 'ag' });
        msg('out', 'agent', 'Fixed now.', t + 12 * MIN);
        t += 15 * MIN;
        ev('conversation.resolved', t, { agentId: 'ag' });
      }
      if (rnd() < 0.9) {
        const c = msg('out', 'system', '请为本次服务打分 1-5 / Rate us 1-5', t + 1000);
        ev('message.queued', t + 1001, { messageId: c, kind: 'csat', key: c, channel });
        if (rnd() < 0.45) {
          const s = msg('in', 'customer', String(1 + Math.floor(rnd() * 5)), t + 2 * MIN);
          ev('csat.given', t + 2 * MIN + 5, { score: Math.min(5, 2 + Math.floor(rnd() * 4)), messageId: s });
        }
      }
    }
    const src: AnalyticsSource = { conversationId, customerId, channel, optOuts: {}, sinceEventId: null, sinceHour: null, events, messages: msgs };
    const f = foldConversation(src, opts);
    for (const c of f.cases) {
      cases.push(c);
      byCustomer.set(customerId, [...(byCustomer.get(customerId) ?? []), c]);
    }
    for (const v of f.volume) addVolume(hourly, v, 1);
    for (const v of f.volume) volume.push({ conversation_id: v.conversationId, hour: v.hour, channel: v.channel, inbound: v.inbound, outbound: v.outbound });
    for (const x of f.questions) questions.push({ event_id: x.eventId, case_id: x.caseId, conversation_id: x.conversationId, channel: x.channel, at: x.at, kind: x.kind, reason: x.reason, confidence: x.confidence, text: x.text, terms: x.terms, agent_answer: x.agentAnswer });
    for (const p of f.proactive) {
      const answered = f.customerMessageTimes.find((m) => m > p.queuedAt && m <= p.queuedAt + DAY) ?? null;
      proactive.push({ message_id: p.messageId, event_id: p.eventId, conversation_id: p.conversationId, customer_id: p.customerId, channel: p.channel, kind: p.kind, queued_at: p.queuedAt, answered_at: answered, opted_out_at: answered !== null && rnd() < 0.1 ? answered : null });
    }
    for (const m of msgs) messages.push(messageRow(m, conversationId, customerId));
    convRows.push({ id: conversationId, customer_id: customerId, channel, status: escalate ? 'resolved' : 'bot', strikes: 0, bot_state: '{}', version: events.length, created_at: msgs[0]?.createdAt ?? t, updated_at: t });
    counts.messages += msgs.length;
    counts.conversations++;
    counts.cases += f.cases.length;
    counts.volume += f.volume.length;
    counts.questions += f.questions.length;
    counts.proactive += f.proactive.length;
    await flush(false);
  }
  await flush(true);
  counts.hourly = changed(hourly).length;
  return counts;
}

function messageRow(m: SourceMessage, conversationId: string, customerId: string): Row {
  return {
    id: m.id, conversation_id: conversationId, customer_id: customerId, direction: m.direction, author: m.author, author_name: null, channel: m.channel,
    dedupe_key: m.direction === 'in' ? `${m.channel}:${m.id}` : null, platform_message_id: m.id, kind: 'text', text: m.text, attachments: '[]', buttons: '[]',
    ref: '{}', delivery_status: m.direction === 'in' ? 'received' : 'sent', sent_parts: '[]', error: null, caused_by: m.causedBy, processed_at: m.createdAt,
    created_at: m.createdAt, sent_at: m.sentAt,
  };
}

/** A case row exactly as the repository writes it. */
function caseRow(c: AnalyticsCase): Row {
  return { ...caseToRow(c) };
}
