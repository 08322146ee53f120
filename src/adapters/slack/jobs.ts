import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { DeskContext, DeskReminderJob } from '../../core/desk.js';
import type { EventSubscriptions } from '../../core/events.js';
import type { Conversation, Customer, DeskCase, StoredMessage } from '../../core/model.js';
import type { AttachmentMeta } from '../../core/types.js';
import { HubError, errorMessage, isHubError } from '../../core/errors.js';
import { detectLocale } from '../../core/locale.js';
import type { SlackApi } from './api.js';
import type { SlackConfig } from './config.js';
import { CaseStore, isPosted, type CaseSnapshot, type PostedCase } from './case-store.js';
import { clip } from '../../core/conversation/summary.js';
import { caseBlocks, caseText, channelBadge, esc, mention, reasonText, slackLink, spansChannels, type CaseView } from './blocks.js';
import { isOpen, opensAt } from './business-hours.js';
import { parseRemindKey, scheduleRemind, slackOrigin } from './keys.js';
import { saveAnswer } from './learned.js';
import { subscribeElsewhere } from './elsewhere.js';

export interface JobDeps {
  cfg: SlackConfig;
  ctx: DeskContext;
  api: SlackApi;
  cases: CaseStore;
  log: Logger;
  /** server.publicUrl: the base of attachment links agents can open (none without it). */
  publicUrl?: string | undefined;
}

/** How long a worker's claim on posting a case blocks the others (a crashed poster is taken over after). */
const PENDING_MS = 60_000;
/** How soon a job that waits for the case message (being posted by another worker) looks again. */
const CASE_WAIT_MS = 250;
/** Messages shown under "Last messages" in the case message. */
const HISTORY_LINES = 6;

type Known = { conversation: Conversation; case: PostedCase };
type Thread = Pick<PostedCase, 'threadChannel' | 'threadTs'>;

/**
 * The desk's reactions to conversation events and its own reminders. Each step is repeatable: every
 * post is claimed under a key (`desk_posts`) before it is made and skipped once recorded; the case
 * message is claimed in `desk_cases` (unique per escalation), so one escalation gets one case and one
 * relay per message however many jobs race. The remaining duplicate window: the process dying after
 * Slack accepted a post and before its ts was recorded (after the claim goes stale, 60 s, the retry
 * posts it again).
 */
export class CaseJobs {
  constructor(private readonly d: JobDeps) {}

  /** The desk as a subscriber (subscriber name `desk-slack`). */
  subscribe(subs: EventSubscriptions): void {
    const name = 'desk-slack';
    subs
      .on(name, 'conversation.escalated', (e) => this.open(e.conversationId))
      .on(name, 'message.received', async (e) => {
        if (e.payload.toAgent) await this.relay(e.conversationId, e.payload.messageId);
      })
      .on(name, 'conversation.reopened', (e) => this.reopen(e.conversationId, e.payload.messageId))
      .on(name, 'message.sent', async (e) => {
        if (e.payload.author === 'agent') await this.delivery(e.conversationId, e.payload.messageId, 'sent');
      })
      .on(name, 'message.failed', async (e) => {
        if (e.payload.author === 'agent') await this.delivery(e.conversationId, e.payload.messageId, 'failed', e.payload.error);
      })
      .on(name, 'csat.given', (e) => this.csat(e.conversationId, e.payload.score, e.payload.messageId));
    subscribeElsewhere(subs, { jobs: this, cases: this.d.cases, storage: this.d.ctx.storage });
  }

  private async open(conversationId: string): Promise<void> {
    const { cfg, ctx } = this.d;
    const { conversation, case: c } = await this.ensureCase(conversationId);
    if (cfg.unclaimedReminderMinutes > 0) {
      await scheduleRemind(ctx, conversationId, `unclaimed:${c.escalationId}`, Math.round(cfg.unclaimedReminderMinutes * 60_000));
    }
    const bh = cfg.businessHours;
    if (bh && conversation.status === 'waiting_agent' && !isOpen(bh, ctx.now())) {
      const fresh = await this.d.cases.get(c.escalationId);
      const locale = (fresh && this.d.cases.snapshot(fresh)?.locale) ?? 'en';
      const text = ctx.templates.render('handover_after_hours', locale, { opensAt: opensAt(bh, ctx.now(), locale) });
      await ctx.proactive.sendToCustomer({
        customerId: conversation.customerId,
        conversationId,
        kind: 'notice',
        key: `after-hours:${c.escalationId}`,
        content: { text },
      });
    }
  }

  /**
   * The case of the conversation's current escalation, posting it when it is not in Slack yet (also
   * when a relay arrives before, or instead of, a failed `open`). A new escalation of a conversation
   * that already has a thread continues that thread.
   */
  async ensureCase(conversationId: string): Promise<Known> {
    const { cases, cfg, ctx } = this.d;
    const conv = await cases.conversation(conversationId);
    const escalationId = cases.escalationId(conv);
    const existing = await cases.get(escalationId);
    if (isPosted(existing)) return { conversation: conv, case: existing };
    if (!existing) {
      const prev = await cases.latestPosted(conv.id);
      if (isPosted(prev)) return this.reescalate(conv, prev, escalationId);
    }
    const owner = randomBytes(6).toString('hex');
    const claim = await cases.claim(escalationId, conv.id, owner, ctx.now() - PENDING_MS);
    if (isPosted(claim.case)) return { conversation: conv, case: claim.case };
    if (!claim.claimed) {
      throw new HubError('WAITING', `case of ${conversationId} is being posted by another worker`, { retry: 'delay', retryAfterMs: CASE_WAIT_MS });
    }
    try {
      const view = await this.view(conv, claim.case);
      const ts = await this.d.api.post({ channel: cfg.caseChannel, text: caseText(view), blocks: caseBlocks(view) });
      await cases.markPosted(claim.case.id, cfg.caseChannel, ts);
      this.d.log.info({ conversationId, ts }, 'case posted to Slack');
      return { conversation: conv, case: { ...claim.case, state: 'posted', threadChannel: cfg.caseChannel, threadTs: ts } };
    } catch (err) {
      // Let the retry (or another worker) post at once instead of waiting for the claim to expire.
      await cases.release(claim.case.id, owner).catch(() => undefined);
      throw err;
    }
  }

  private async reescalate(conv: Conversation, prev: PostedCase, escalationId: string): Promise<Known> {
    const { case: c, created } = await this.d.cases.insertPosted(escalationId, conv.id, prev.threadChannel, prev.threadTs);
    if (!isPosted(c)) throw new HubError('WAITING', `case of ${conv.id} is being posted`, { retry: 'delay', retryAfterMs: CASE_WAIT_MS });
    if (created) {
      await this.snapshot(conv, c, await this.d.ctx.storage.customers.get(conv.customerId));
      await this.postOnce(conv.id, `escalated:${escalationId}`, c, `:rotating_light: Escalated again: ${esc(reasonText(conv.escalationReason))}`, true);
      await this.refresh(conv.id);
    }
    return { conversation: conv, case: c };
  }

  /**
   * Posts `text` in the case thread once per `key`; returns its ts. The key is claimed before the
   * post, so two workers running the same step at once post once (the other waits for the first).
   */
  async postOnce(conversationId: string, key: string, c: Thread, text: string, broadcast = false): Promise<string> {
    const { cases, api, ctx } = this.d;
    const owner = randomBytes(6).toString('hex');
    const claim = await cases.claimPost(key, conversationId, owner, ctx.now() - PENDING_MS);
    if (claim.state === 'posted') return claim.ts;
    if (claim.state === 'busy') throw new HubError('WAITING', `post ${key} is being made by another worker`, { retry: 'delay', retryAfterMs: CASE_WAIT_MS });
    let ts: string;
    try {
      ts = await api.post({ channel: c.threadChannel, threadTs: c.threadTs, text, broadcast });
    } catch (err) {
      await cases.releasePost(key, owner).catch(() => undefined);
      throw err;
    }
    await cases.completePost(key, ts);
    return ts;
  }

  /** `known`: the case when the caller has just ensured it. */
  private async relay(conversationId: string, messageId: string, known?: Known): Promise<void> {
    const { conversation, case: c } = known ?? (await this.ensureCase(conversationId));
    const msg = await this.d.ctx.storage.messages.get(messageId);
    if (!msg) {
      this.d.log.warn({ conversationId, messageId }, 'relay: message not found');
      return;
    }
    const customer = await this.d.ctx.storage.customers.get(conversation.customerId);
    const name = msg.authorName ?? customer?.displayName ?? 'Customer';
    const files = await Promise.all(msg.attachments.map(async (a) => `\n:paperclip: ${await this.fileLink(msg.channel, a)}`));
    // A customer who wrote on several channels (linked): the channel's badge, `[Email]`; else its name as before.
    const badge = spansChannels(await this.d.ctx.storage.messages.ofCustomer(conversation.customerId, HISTORY_LINES * 5)) ? channelBadge(msg.channel) : `[${esc(msg.channel)}]`;
    const text = `*${badge}* *${esc(clip(name, 80))}*: ${esc(msg.text)}${files.join('')}`;
    // Cut to Slack's limit without clip(), which would fold the customer's line breaks and the file lines into one.
    await this.postOnce(conversationId, `relay:${messageId}`, c, text.length > 39_000 ? `${text.slice(0, 38_999)}…` : text);
  }

  /** An attachment as a link agents can open (a signed hub URL: no platform secret), else its name. */
  private async fileLink(channel: string, a: AttachmentMeta): Promise<string> {
    const { ctx, cfg, publicUrl } = this.d;
    const url = await ctx.attachmentUrl(channel, a, { baseUrl: publicUrl, ttlMs: cfg.attachmentLinkMinutes * 60_000 });
    if (url) return slackLink(url, a.name);
    return a.fetchHandle && !publicUrl ? `${esc(a.name)} _(no link: the hub has no server.publicUrl)_` : esc(a.name);
  }

  private async reopen(conversationId: string, messageId: string): Promise<void> {
    const known = await this.ensureCase(conversationId);
    const { conversation, case: c } = known;
    const who = conversation.assignee ? `back to ${mention(conversation.assignee)}` : 'waiting for an agent';
    await this.postOnce(conversationId, `reopen:${messageId}`, c, `:leftwards_arrow_with_hook: The customer wrote again after the case was resolved: reopened, ${who}.`, true);
    await this.relay(conversationId, messageId, known);
    await this.refresh(conversationId);
  }

  private async delivery(conversationId: string, messageId: string, status: 'sent' | 'failed', error?: string): Promise<void> {
    const { api, cfg, log, ctx } = this.d;
    const row = await ctx.storage.messages.get(messageId);
    const origin = slackOrigin(row?.dedupeKey ?? null);
    if (!row || !origin) {
      log.debug({ conversationId, messageId }, 'delivery of an agent message not sent from Slack');
      return;
    }
    try {
      await api.react(origin.channel, origin.ts, status === 'sent' ? cfg.deliveredReaction : cfg.failedReaction);
    } catch (err) {
      if (!isHubError(err, 'NOT_FOUND')) throw err;
      log.warn({ conversationId, messageId }, `the agent's Slack message is gone; no ${status} reaction`);
    }
    if (status === 'failed') {
      const conv = await this.d.cases.conversation(conversationId);
      const c = await this.d.cases.get(this.d.cases.escalationId(conv));
      const where: Thread = isPosted(c) ? c : { threadChannel: origin.channel, threadTs: origin.ts };
      const why = failureReason(error ?? row.error ?? 'unknown error');
      await this.postOnce(
        conversationId,
        `delivery:${messageId}`,
        where,
        `:warning: ${conv.assignee ? `${mention(conv.assignee)} ` : ''}This reply did not reach the customer on ${esc(row.channel)}: *${why}* (${esc(clip(error ?? row.error ?? '', 200))}). It stays in the conversation; the customer can still write in, and a reply after they do will be sent.`,
      );
    }
  }

  private async csat(conversationId: string, score: number, messageId: string): Promise<void> {
    const { case: c } = await this.ensureCase(conversationId);
    await this.postOnce(conversationId, `csat:${messageId}`, c, `:star: The customer rated this case *${score}/5* ${'★'.repeat(score)}${'☆'.repeat(5 - score)}`);
    await this.refresh(conversationId);
  }

  async remind(job: DeskReminderJob): Promise<void> {
    const { conversationId, key } = job;
    const k = parseRemindKey(key);
    if (!k) {
      this.d.log.warn({ conversationId, key }, 'unknown desk reminder key; ignored');
      return;
    }
    if (k.kind === 'unclaimed') {
      const conv = await this.d.cases.conversation(conversationId);
      const c = await this.d.cases.get(k.escalationId);
      if (conv.status !== 'waiting_agent' || !isPosted(c) || conv.escalationId !== k.escalationId) return;
      const who = this.d.cfg.onCallGroup ? `<!subteam^${this.d.cfg.onCallGroup}> ` : '';
      const mins = this.d.cfg.unclaimedReminderMinutes;
      await this.postOnce(conversationId, key, c, `:bell: ${who}This case has waited ${mins >= 1 ? `${Math.round(mins)} min` : 'a while'} without an agent — please claim it.`, true);
      return;
    }
    const { case: ref } = await this.ensureCase(conversationId);
    if (k.kind === 'edit') {
      await this.postOnce(conversationId, key, ref, ':pencil2: Edits and deletions in this thread are not sent to the customer, who already has the original. Send a new reply to correct it.');
      return;
    }
    await this.refresh(conversationId);
    const user = mention(k.user);
    const notes: Record<string, string> = {
      claim: `:raising_hand: ${user} claimed the case.`,
      reply: `:raising_hand: ${user} claimed the case by replying.`,
      resolve: `:white_check_mark: ${user} resolved the case; the customer was asked for a rating.`,
      return: `:robot_face: ${user} gave the conversation back to the bot.`,
    };
    if (k.action === 'save') {
      await this.postOnce(conversationId, key, ref, await saveAnswer(this.d, conversationId, k.user));
      return;
    }
    if (k.action.startsWith('fail-')) {
      await this.postOnce(conversationId, key, ref, `:warning: ${user} could not ${esc(k.action.slice(5))}: the case changed meanwhile (see its status above).`);
      return;
    }
    const note = notes[k.action];
    if (note) await this.postOnce(conversationId, key, ref, note);
  }

  /** Re-renders the case message from the conversation; re-posts it when it was deleted. */
  async refresh(conversationId: string): Promise<void> {
    const { cases, api, log } = this.d;
    const conv = await cases.conversation(conversationId);
    const c = await cases.get(cases.escalationId(conv));
    if (!isPosted(c)) return;
    const view = await this.view(conv, c);
    try {
      await api.update(c.threadChannel, c.threadTs, caseText(view), caseBlocks(view));
    } catch (err) {
      if (!isHubError(err, 'NOT_FOUND')) throw err;
      log.warn({ conversationId, ts: c.threadTs }, `case message is gone (${errorMessage(err)}); posting it again`);
      const ts = await api.post({ channel: this.d.cfg.caseChannel, text: caseText(view), blocks: caseBlocks(view) });
      await cases.markPosted(c.id, this.d.cfg.caseChannel, ts);
    }
  }

  /** What the case message shows that is computed once per escalation (summary, suggestions). */
  private async snapshot(conv: Conversation, c: DeskCase, customer: Customer | undefined): Promise<CaseSnapshot> {
    const { cases, ctx } = this.d;
    const existing = cases.snapshot((await cases.get(c.escalationId)) ?? c);
    if (existing) return existing;
    const msgs = await ctx.storage.messages.ofConversation(conv.id, 30);
    const asked = msgs.filter((m) => m.author === 'customer' && m.text.trim());
    const lastText = asked.at(-1)?.text ?? '';
    const locale = detectLocale(asked.map((m) => m.text).join(' '), customer?.locale);
    let summary: string;
    try {
      summary = await ctx.summarize(
        msgs.map((m) => ({ author: m.author, text: m.text })),
        locale,
      );
    } catch (err) {
      summary = `(summary unavailable: ${errorMessage(err)})`;
    }
    let suggestions: CaseSnapshot['suggestions'] = [];
    try {
      const query = asked.slice(-2).map((m) => m.text).join(' ') || lastText;
      suggestions = ctx.suggest(query, locale, 3).map((s) => ({ question: s.question, answer: s.answer }));
    } catch (err) {
      this.d.log.warn({ conversationId: conv.id }, `suggestions failed: ${errorMessage(err)}`);
    }
    const snap: CaseSnapshot = { summary, suggestions, sentiment: await cases.sentiment(conv.id), locale };
    await cases.saveSnapshot(c, snap);
    return snap;
  }

  private async view(conv: Conversation, c: DeskCase): Promise<CaseView> {
    const { ctx } = this.d;
    const customer = await ctx.storage.customers.get(conv.customerId);
    const snap = await this.snapshot(conv, c, customer);
    const identities = await ctx.storage.customers.identitiesOf(conv.customerId);
    // One history across channels: a customer linked on several channels shows their latest messages on all of them (badged in caseBlocks).
    const linked = new Set(identities.map((i) => i.channel)).size > 1;
    const msgs = linked ? await ctx.storage.messages.ofCustomer(conv.customerId, HISTORY_LINES) : await ctx.storage.messages.ofConversation(conv.id, HISTORY_LINES);
    const customerName = customer?.displayName ?? identities.find((i) => i.displayName)?.displayName ?? 'Customer';
    return {
      conversationId: conv.id,
      customerName,
      channel: conv.channel,
      identities: identities.map((i) => ({ channel: i.channel, name: i.displayName ?? i.platformUserId })),
      locale: snap.locale,
      sentiment: snap.sentiment,
      reason: conv.escalationReason,
      priority: conv.priority,
      summary: snap.summary,
      lastMessages: msgs.map((m) => ({ author: authorLabel(m, customerName), channel: m.channel, text: m.text })),
      suggestions: snap.suggestions,
      status: conv.status,
      assignee: conv.assignee,
      csat: typeof conv.botState.csat === 'number' ? conv.botState.csat : null,
    };
  }
}

function authorLabel(m: StoredMessage, customerName: string): string {
  if (m.author === 'customer') return m.authorName ?? customerName;
  if (m.author === 'agent') return `agent ${m.authorName ?? ''}`.trim();
  return m.author;
}

/** Why a reply did not reach the customer, in words for agents. */
export function failureReason(error: string): string {
  if (/block|forbidden|kicked|deactivated/i.test(error)) return 'the customer blocked us or left';
  if (/bounce|mailbox|undeliverable/i.test(error)) return 'the email bounced';
  if (/window|24.?h|expired|outside.*period/i.test(error)) return 'the reply window expired';
  if (/unreachable/i.test(error)) return 'the customer cannot be reached';
  return 'the channel refused it';
}
