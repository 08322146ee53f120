import { createHmac } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { LoopbackAdapter, type LoopbackOptions } from '../../src/adapters/loopback/index.js';
import { slackCustomers, slackDesk } from '../../src/adapters/slack/index.js';
import { slackConfigSchema, type SlackConfigInput } from '../../src/adapters/slack/config.js';
import type { BotDecision, Responder, ResponderTurn } from '../../src/core/responder.js';
import type { Conversation } from '../../src/core/model.js';
import type { ChannelAdapter } from '../../src/core/adapter.js';
import type { HubConfigInput } from '../../src/hub/config-schema.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';
import type { Dialect } from '../helpers/env.js';
import { startFakeSlack, type FakeSlack } from '../fakes/slack-api.js';

export const SECRET = 'test-signing-secret-0123456789';
export const CASES = 'CCASES';

/** Escalates on "human", answers everything else. */
export class HumanResponder implements Responder {
  readonly turns: ResponderTurn[] = [];
  async respond(turn: ResponderTurn): Promise<BotDecision> {
    this.turns.push(turn);
    if (/human|人工/.test(turn.text)) return { kind: 'escalate', reason: 'asked_for_human', priority: 'normal', sentiment: -0.2 };
    return { kind: 'answer', text: `bot: ${turn.text}`, confidence: 0.9, sentiment: 0.1 };
  }
  suggest(text: string): { entryId: string; question: string; answer: string }[] {
    return [1, 2, 3].map((n) => ({ entryId: `e${n}`, question: `Question ${n} about ${text.slice(0, 20)}`, answer: `Answer ${n}` }));
  }
}

export interface SlackHub {
  t: TestHub;
  fake: FakeSlack;
  lb: LoopbackAdapter;
  logs: string[];
  dir: string;
  eventsUrl: string;
  stop(): Promise<void>;
}

/** A port nothing listens on right now (for a hub whose public URL must be known before it starts). */
export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export async function startSlackHub(
  opts: {
    slack?: Partial<SlackConfigInput>;
    loopback?: LoopbackOptions;
    config?: HubConfigInput;
    responder?: Responder;
    dialect?: Dialect;
    /** More channels besides the loopback web chat. */
    adapters?: ChannelAdapter[];
    /** Serve on a fixed free port with `server.publicUrl` = that address (attachment links need it). */
    publicUrl?: boolean;
    /** Log lines of the desk (and whoever else writes here). */
    logs?: string[];
  } = {},
): Promise<SlackHub> {
  const fake = await startFakeSlack();
  const dir = mkdtempSync(join(tmpdir(), 'sb-slack-'));
  mkdirSync(join(dir, 'templates'));
  mkdirSync(join(dir, 'knowledge'));
  copyFileSync(join('config', 'templates', 'core.yaml'), join(dir, 'templates', 'core.yaml'));
  const logs: string[] = opts.logs ?? [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void logs.push(s) });
  const cfg = slackConfigSchema.parse({
    enabled: true,
    botToken: 'xoxb-test',
    signingSecret: SECRET,
    apiUrl: fake.apiUrl,
    caseChannel: CASES,
    onCallGroup: 'SONCALL',
    ...opts.slack,
  });
  const port = opts.publicUrl ? await freePort() : undefined;
  const publicUrl = port ? `http://127.0.0.1:${port}` : undefined;
  const desk = await slackDesk.create(cfg, { log, dataDir: dir, ...(publicUrl ? { publicUrl } : {}) });
  const lb = new LoopbackAdapter({ channel: 'webchat', ...opts.loopback });
  // The customer side, from the same section (as the registry builds it), when `customers` is set.
  const customers = cfg.customers ? [await slackCustomers.create(cfg, { log, dataDir: dir })] : [];
  const t = await startTestHub({ adapters: [lb, ...customers, ...(opts.adapters ?? [])], responder: opts.responder ?? new HumanResponder(), desk,
    configDir: dir,
    dialect: opts.dialect ?? 'sqlite',
    config: {
      ...opts.config,
      ...(port ? { server: { ...opts.config?.server, host: '127.0.0.1', port, publicUrl } } : {}),
      bot: { ...opts.config?.bot, knowledgeDir: join(dir, 'knowledge') },
    },
  });
  return {
    t,
    fake,
    lb,
    logs,
    dir,
    eventsUrl: `${t.hub.url}${cfg.eventsPath}`,
    stop: async () => {
      await t.stop();
      await fake.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function sign(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

export interface PostOpts {
  /** null: no signature headers at all. */
  secret?: string | null;
  timestamp?: number;
  retryNum?: number;
}

/** POSTs a body to the Events API endpoint as Slack does (v0 signature over `v0:ts:body`). */
export async function postSlack(url: string, body: string, contentType: string, o: PostOpts = {}): Promise<{ status: number; text: string }> {
  const ts = o.timestamp ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = { 'content-type': contentType };
  if (o.secret !== null) {
    headers['x-slack-request-timestamp'] = String(ts);
    headers['x-slack-signature'] = sign(o.secret ?? SECRET, ts, body);
  }
  if (o.retryNum !== undefined) {
    headers['x-slack-retry-num'] = String(o.retryNum);
    headers['x-slack-retry-reason'] = 'http_timeout';
  }
  const res = await fetch(url, { method: 'POST', headers, body });
  return { status: res.status, text: await res.text() };
}

let eventSeq = 0;
export function eventBody(event: Record<string, unknown>, eventId = `Ev${++eventSeq}${Date.now()}`): string {
  return JSON.stringify({
    token: 'legacy',
    team_id: 'T1',
    api_app_id: 'A1',
    type: 'event_callback',
    event_id: eventId,
    event_time: Math.floor(Date.now() / 1000),
    event: { event_ts: event.ts, ...event },
  });
}

let tsSeq = 0;
export function slackTs(): string {
  return `${1_800_000_000 + ++tsSeq}.${String(tsSeq).padStart(6, '0')}`;
}

/** An agent's message in a case thread. */
export function threadReply(user: string, text: string, threadTs: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'message', channel: CASES, user, text, ts: slackTs(), thread_ts: threadTs, client_msg_id: `c${tsSeq}`, ...extra };
}

export function sendEvent(h: SlackHub, event: Record<string, unknown>, o: PostOpts = {}, eventId?: string) {
  return postSlack(h.eventsUrl, eventBody(event, eventId), 'application/json', o);
}

/** A button click (block_actions) as Slack posts it: form-encoded `payload`. */
export function clickButton(h: SlackHub, user: string, actionId: string, conversationId: string, caseTs: string, o: PostOpts = {}) {
  const payload = {
    type: 'block_actions',
    team: { id: 'T1', domain: 'test' },
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: 'T1' },
    api_app_id: 'A1',
    token: 'legacy',
    trigger_id: 'trig',
    container: { type: 'message', message_ts: caseTs, channel_id: CASES, is_ephemeral: false },
    channel: { id: CASES, name: 'support-cases' },
    message: { type: 'message', ts: caseTs, text: 'case' },
    actions: [{ type: 'button', action_id: actionId, block_id: 'sb_case', value: conversationId, action_ts: slackTs(), text: { type: 'plain_text', text: 'x' } }],
  };
  return postSlack(h.eventsUrl, `payload=${encodeURIComponent(JSON.stringify(payload))}`, 'application/x-www-form-urlencoded', o);
}

export async function conversationOf(h: SlackHub, userId: string, channel = 'webchat'): Promise<Conversation> {
  return until(async () => {
    const ident = await h.t.hub.storage.customers.findIdentity(channel, userId);
    if (!ident) return undefined;
    return (await h.t.hub.storage.conversations.ofCustomer(ident.customerId)).at(-1);
  }, 10_000, `conversation of ${userId}`);
}

/** Waits until the customer's conversation has a posted case; returns it with its thread ts. */
export async function caseOf(
  h: SlackHub,
  userId: string,
  channel = 'webchat',
): Promise<{ conversation: Conversation; ref: { channel: string; ts: string; escalationId: string } }> {
  return until(async () => {
    const c = await conversationOf(h, userId, channel);
    const fresh = await h.t.hub.storage.conversations.get(c.id);
    if (!fresh?.escalationId) return undefined;
    const k = await h.t.hub.storage.deskCases.get('slack', fresh.escalationId);
    return k?.threadChannel && k.threadTs ? { conversation: fresh, ref: { channel: k.threadChannel, ts: k.threadTs, escalationId: k.escalationId } } : undefined;
  }, 10_000, `case of ${userId}`);
}

/** Posts in a thread with this text (fake Slack calls). */
export function threadPosts(h: SlackHub, threadTs: string): { text: string; ts?: string; broadcast: boolean }[] {
  return h.fake
    .ok('chat.postMessage')
    .filter((c) => c.body.thread_ts === threadTs)
    .map((c) => ({ text: String(c.body.text), broadcast: c.body.reply_broadcast === true || c.body.reply_broadcast === 'true' }));
}

export function waitFor<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 10_000): Promise<T> {
  return until(fn, ms, what);
}
