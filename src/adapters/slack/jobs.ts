import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { DeskContext, DeskJob } from '../../core/desk.js';
import type { Conversation, Customer, MessageRow } from '../../core/storage/store.js';
import type { AttachmentMeta, MessageAuthor } from '../../core/types.js';
import { HubError, errorMessage, isHubError } from '../../core/errors.js';
import { detectLocale } from '../../core/locale.js';
import { parseJson } from '../../core/storage/json.js';
import type { SlackApi } from './api.js';
import type { SlackConfig } from './config.js';
import { CaseStore, isPosted, parseCaseRef, type CaseRef, type CaseSnapshot, type PostedCase } from './case-store.js';
import { clip } from '../../core/conversation/summary.js';
import { caseBlocks, caseText, esc, reasonText, type CaseView } from './blocks.js';
import { isOpen, opensAt } from './business-hours.js';
import { parseRemindKey, scheduleRemind, slackOrigin } from './keys.js';
import { appendLearned } from './learned.js';

export interface JobDeps {
  cfg: SlackConfig;
  ctx: DeskContext;
  api: SlackApi;
  cases: CaseStore;
  log: Logger;
}

/** How long a worker's claim on posting a case blocks the others (a crashed poster is taken over after). */
const PENDING_MS = 60_000;

/**
 * The desk's side of every DeskJob. Each step is repeatable: posts are recorded under a key
 * (`slack_post` events) and skipped when found, the case message is claimed in the conversation ref
 * before it is posted. The remaining duplicate window: the process dying after Slack accepted a post
 * and before its record was written (that one post may appear twice after the retry).
 */
export class CaseJobs {
  constructor(private readonly d: JobDeps) {}

  async handle(job: DeskJob): Promise<void> {
    switch (job.type) {
      case 'open':
        return this.open(job.conversationId);
      case 'relay':
        return this.relay(job.conversationId, job.messageId);
      case 'reopen':
        return this.reopen(job.conversationId, job.messageId);
      case 'delivery':
        return this.delivery(job.conversationId, job.messageId, job.status, job.error);
      case 'csat':
        return this.csat(job.conversationId, job.score, job.messageId);
      case 'remind':
        return this.remind(job.conversationId, job.key);
    }
  }

  private async open(conversationId: string): Promise<void> {
    const { cfg, ctx } = this.d;
    const { conversation, ref } = await this.ensureCase(conversationId);
    if (cfg.unclaimedReminderMinutes > 0) {
      await scheduleRemind(ctx, conversationId, `unclaimed:${ref.escalationId}`, Math.round(cfg.unclaimedReminderMinutes * 60_000));
    }
    const bh = cfg.businessHours;
    if (bh && conversation.status === 'waiting_agent' && !isOpen(bh, ctx.now())) {
      const snap = await this.d.cases.snapshot(conversationId, ref.escalationId);
      const locale = snap?.locale ?? 'en';
      const text = ctx.templates.render('handover_after_hours', locale, { opensAt: opensAt(bh, ctx.now(), locale) });
      await ctx.actions.notify(conversationId, text, `after-hours:${ref.escalationId}`);
    }
  }

  /**
   * The case of the conversation's current escalation, posting it when it is not in Slack yet (also
   * when a relay arrives before, or instead of, a failed `open`). A new escalation of a conversation
   * that already has a thread continues that thread.
   */
  async ensureCase(conversationId: string): Promise<{ conversation: Conversation; ref: PostedCase }> {
    const { cases, cfg, ctx } = this.d;
    for (let i = 0; i < 4; i++) {
      const conv = await cases.conversation(conversationId);
      const escalationId = await cases.escalationId(conversationId);
      const ref = parseCaseRef(conv.escalationRef);
      if (isPosted(ref) && ref.escalationId === escalationId) return { conversation: conv, ref };
      if (isPosted(ref)) return this.reescalate(conv, ref, escalationId);
      const owner = randomBytes(6).toString('hex');
      const fresh = (r: CaseRef | undefined) => r?.pendingSince !== undefined && r.escalationId === escalationId && ctx.now() - r.pendingSince < PENDING_MS;
      if (fresh(ref)) {
        throw new HubError('WAITING', `case of ${conversationId} is being posted by another worker`, { retry: 'delay', retryAfterMs: 1000 });
      }
      let claimed = false;
      const claimedConv = await cases.setRef(conversationId, (c) => {
        const r = parseCaseRef(c.escalationRef);
        if (isPosted(r) || fresh(r)) return undefined;
        claimed = true;
        return { desk: 'slack', channel: cfg.caseChannel, escalationId, pendingSince: ctx.now(), owner };
      });
      if (!claimed) continue;
      try {
        const view = await this.view(claimedConv, escalationId);
        const ts = await this.d.api.post({ channel: cfg.caseChannel, text: caseText(view), blocks: caseBlocks(view) });
        const posted: PostedCase = { desk: 'slack', channel: cfg.caseChannel, escalationId, ts };
        const after = await cases.setRef(conversationId, (c) => {
          const r = parseCaseRef(c.escalationRef);
          if (r?.owner !== owner) this.d.log.warn({ conversationId }, 'another worker took over posting this case; keeping ours');
          return posted;
        });
        this.d.log.info({ conversationId, ts }, 'case posted to Slack');
        return { conversation: after, ref: posted };
      } catch (err) {
        // Let the retry (or another worker) post at once instead of waiting for the claim to expire.
        await cases
          .setRef(conversationId, (c) => {
            const r = parseCaseRef(c.escalationRef);
            return r?.owner === owner && !isPosted(r) ? null : undefined;
          })
          .catch(() => undefined);
        throw err;
      }
    }
    throw new HubError('VERSION_CONFLICT', `case of ${conversationId} kept changing`, { retry: 'retry' });
  }

  private async reescalate(conv: Conversation, ref: PostedCase, escalationId: string): Promise<{ conversation: Conversation; ref: PostedCase }> {
    await this.snapshot(conv, escalationId, await this.d.ctx.store.getCustomer(conv.customerId));
    await this.postOnce(conv.id, `escalated:${escalationId}`, ref, `:rotating_light: Escalated again: ${esc(reasonText(conv.escalationReason))}`, true);
    const next: PostedCase = { ...ref, escalationId };
    const after = await this.d.cases.setRef(conv.id, (c) => {
      const r = parseCaseRef(c.escalationRef);
      return isPosted(r) && r.escalationId !== escalationId ? next : undefined;
    });
    await this.refresh(conv.id);
    return { conversation: after, ref: next };
  }

  /** Posts `text` in the case thread once per `key`; returns its ts. */
  async postOnce(conversationId: string, key: string, ref: PostedCase, text: string, broadcast = false): Promise<string> {
    const done = await this.d.cases.posted(conversationId, key);
    if (done) return done;
    const ts = await this.d.api.post({ channel: ref.channel, threadTs: ref.ts, text, broadcast });
    await this.d.cases.recordPost(conversationId, key, ts);
    return ts;
  }

  /** `known`: the case when the caller has just ensured it. */
  private async relay(conversationId: string, messageId: string, known?: { conversation: Conversation; ref: PostedCase }): Promise<void> {
    const { conversation, ref } = known ?? (await this.ensureCase(conversationId));
    const msg = await this.d.ctx.store.getMessage(messageId);
    if (!msg) {
      this.d.log.warn({ conversationId, messageId }, 'relay: message not found');
      return;
    }
    const customer = await this.d.ctx.store.getCustomer(conversation.customerId);
    const name = msg.author_name ?? customer?.display_name ?? 'Customer';
    const files = parseJson<AttachmentMeta[]>(msg.attachments, []).map((a) => `\n:paperclip: ${a.url ? `<${a.url}|${esc(a.name)}>` : esc(a.name)}`);
    const text = `*[${esc(msg.channel)}]* *${esc(clip(name, 80))}*: ${esc(msg.text)}${files.join('')}`;
    await this.postOnce(conversationId, `relay:${messageId}`, ref, clip(text, 39_000));
  }

  private async reopen(conversationId: string, messageId: string): Promise<void> {
    const known = await this.ensureCase(conversationId);
    const { conversation, ref } = known;
    const who = conversation.assignee ? `back to <@${conversation.assignee}>` : 'waiting for an agent';
    await this.postOnce(conversationId, `reopen:${messageId}`, ref, `:leftwards_arrow_with_hook: The customer wrote again after the case was resolved: reopened, ${who}.`, true);
    await this.relay(conversationId, messageId, known);
    await this.refresh(conversationId);
  }

  private async delivery(conversationId: string, messageId: string, status: 'sent' | 'failed', error?: string): Promise<void> {
    const { api, cfg, log, ctx } = this.d;
    const row = await ctx.store.getMessage(messageId);
    const origin = slackOrigin(row?.dedupe_key ?? null);
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
      const ref = parseCaseRef(conv.escalationRef);
      const where: PostedCase = isPosted(ref) ? ref : { desk: 'slack', channel: origin.channel, escalationId: '', ts: origin.ts };
      const why = failureReason(error ?? row.error ?? 'unknown error');
      await this.postOnce(
        conversationId,
        `delivery:${messageId}`,
        where,
        `:warning: ${conv.assignee ? `<@${conv.assignee}> ` : ''}This reply did not reach the customer on ${esc(row.channel)}: *${why}* (${esc(clip(error ?? row.error ?? '', 200))}). It stays in the conversation; the customer can still write in, and a reply after they do will be sent.`,
      );
    }
  }

  private async csat(conversationId: string, score: number, messageId: string): Promise<void> {
    const { ref } = await this.ensureCase(conversationId);
    await this.postOnce(conversationId, `csat:${messageId}`, ref, `:star: The customer rated this case *${score}/5* ${'★'.repeat(score)}${'☆'.repeat(5 - score)}`);
    await this.refresh(conversationId);
  }

  private async remind(conversationId: string, key: string): Promise<void> {
    const k = parseRemindKey(key);
    if (!k) {
      this.d.log.warn({ conversationId, key }, 'unknown desk reminder key; ignored');
      return;
    }
    if (k.kind === 'unclaimed') {
      const conv = await this.d.cases.conversation(conversationId);
      const ref = parseCaseRef(conv.escalationRef);
      if (conv.status !== 'waiting_agent' || !isPosted(ref) || ref.escalationId !== k.escalationId) return;
      const who = this.d.cfg.onCallGroup ? `<!subteam^${this.d.cfg.onCallGroup}> ` : '';
      const mins = this.d.cfg.unclaimedReminderMinutes;
      await this.postOnce(conversationId, key, ref, `:bell: ${who}This case has waited ${mins >= 1 ? `${Math.round(mins)} min` : 'a while'} without an agent — please claim it.`, true);
      return;
    }
    const { ref } = await this.ensureCase(conversationId);
    if (k.kind === 'edit') {
      await this.postOnce(conversationId, key, ref, ':pencil2: Edits and deletions in this thread are not sent to the customer, who already has the original. Send a new reply to correct it.');
      return;
    }
    await this.refresh(conversationId);
    const user = `<@${k.user}>`;
    const notes: Record<string, string> = {
      claim: `:raising_hand: ${user} claimed the case.`,
      reply: `:raising_hand: ${user} claimed the case by replying.`,
      resolve: `:white_check_mark: ${user} resolved the case; the customer was asked for a rating.`,
      return: `:robot_face: ${user} gave the conversation back to the bot.`,
    };
    if (k.action === 'save') return this.saveAnswer(conversationId, ref, k.user, key);
    if (k.action.startsWith('fail-')) {
      await this.postOnce(conversationId, key, ref, `:warning: ${user} could not ${k.action.slice(5)}: the case changed meanwhile (see its status above).`);
      return;
    }
    const note = notes[k.action];
    if (note) await this.postOnce(conversationId, key, ref, note);
  }

  private async saveAnswer(conversationId: string, ref: PostedCase, user: string, key: string): Promise<void> {
    const { ctx, cfg } = this.d;
    const msgs = await ctx.store.conversationMessages(conversationId, 200);
    const answerAt = findLastIndex(msgs, (m) => m.author === 'agent' && m.text.trim() !== '');
    const question = answerAt < 0 ? undefined : [...msgs.slice(0, answerAt)].reverse().find((m) => m.author === 'customer' && m.text.trim() !== '');
    const answer = msgs[answerAt];
    if (!question || !answer) {
      await this.postOnce(conversationId, key, ref, `:information_source: <@${user}> nothing to save yet: answer the customer in this thread first, then press *Save answer*.`);
      return;
    }
    const file = join(ctx.knowledgeDir, cfg.learnedFile);
    const saved = await appendLearned(file, {
      conversationId,
      question: question.text.trim(),
      answer: answer.text.trim(),
      locale: detectLocale(question.text),
      agent: user,
      key,
      savedAt: ctx.now(),
    });
    this.d.log.info({ conversationId, id: saved.id, file }, 'agent answer saved to the knowledge base (pending review)');
    await this.postOnce(conversationId, key, ref, `:books: <@${user}> saved the last answer to the knowledge base as \`${saved.id}\` — pending review in \`${cfg.learnedFile}\`.`);
  }

  /** Re-renders the case message from the conversation; re-posts it when it was deleted. */
  async refresh(conversationId: string): Promise<void> {
    const { cases, api, log } = this.d;
    const conv = await cases.conversation(conversationId);
    const ref = parseCaseRef(conv.escalationRef);
    if (!isPosted(ref)) return;
    const view = await this.view(conv, ref.escalationId);
    try {
      await api.update(ref.channel, ref.ts, caseText(view), caseBlocks(view));
    } catch (err) {
      if (!isHubError(err, 'NOT_FOUND')) throw err;
      log.warn({ conversationId, ts: ref.ts }, `case message is gone (${errorMessage(err)}); posting it again`);
      const ts = await api.post({ channel: this.d.cfg.caseChannel, text: caseText(view), blocks: caseBlocks(view) });
      await cases.setRef(conversationId, () => ({ desk: 'slack', channel: this.d.cfg.caseChannel, escalationId: ref.escalationId, ts }));
    }
  }

  private async snapshot(conv: Conversation, escalationId: string, customer: Customer | undefined): Promise<CaseSnapshot> {
    const { cases, ctx } = this.d;
    const existing = await cases.snapshot(conv.id, escalationId);
    if (existing) return existing;
    const msgs = await ctx.store.conversationMessages(conv.id, 30);
    const asked = msgs.filter((m) => m.author === 'customer' && m.text.trim());
    const lastText = asked.at(-1)?.text ?? '';
    const locale = detectLocale(asked.map((m) => m.text).join(' '), customer?.locale);
    let summary: string;
    try {
      summary = await ctx.summarize(
        msgs.map((m) => ({ author: m.author as MessageAuthor, text: m.text })),
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
    const snap: CaseSnapshot = { escalationId, summary, suggestions, sentiment: await cases.sentiment(conv.id), locale };
    await cases.saveSnapshot(conv.id, snap);
    return snap;
  }

  private async view(conv: Conversation, escalationId: string): Promise<CaseView> {
    const { ctx } = this.d;
    const customer = await ctx.store.getCustomer(conv.customerId);
    const snap = await this.snapshot(conv, escalationId, customer);
    const identities = await ctx.store.identitiesOf(conv.customerId);
    const msgs = await ctx.store.conversationMessages(conv.id, 6);
    const customerName = customer?.display_name ?? identities.find((i) => i.display_name)?.display_name ?? 'Customer';
    return {
      conversationId: conv.id,
      customerName,
      channel: conv.channel,
      identities: identities.map((i) => ({ channel: i.channel, name: i.display_name ?? i.platform_user_id })),
      locale: snap.locale,
      sentiment: snap.sentiment,
      reason: conv.escalationReason,
      priority: conv.priority,
      summary: snap.summary,
      lastMessages: msgs.map((m: MessageRow) => ({ author: authorLabel(m, customerName), channel: m.channel, text: m.text })),
      suggestions: snap.suggestions,
      status: conv.status,
      assignee: conv.assignee,
      csat: typeof conv.botState.csat === 'number' ? conv.botState.csat : null,
    };
  }
}

function authorLabel(m: MessageRow, customerName: string): string {
  if (m.author === 'customer') return m.author_name ?? customerName;
  if (m.author === 'agent') return `agent ${m.author_name ?? ''}`.trim();
  return m.author;
}

function findLastIndex<T>(xs: T[], f: (x: T) => boolean): number {
  for (let i = xs.length - 1; i >= 0; i--) if (f(xs[i] as T)) return i;
  return -1;
}

/** Why a reply did not reach the customer, in words for agents. */
export function failureReason(error: string): string {
  if (/block|forbidden|kicked|deactivated/i.test(error)) return 'the customer blocked us or left';
  if (/bounce|mailbox|undeliverable/i.test(error)) return 'the email bounced';
  if (/window|24.?h|expired|outside.*period/i.test(error)) return 'the reply window expired';
  if (/unreachable/i.test(error)) return 'the customer cannot be reached';
  return 'the channel refused it';
}
