import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { AdapterContext, ChannelAdapter, ChannelState } from '../../core/adapter.js';
import { HubError, isHubError } from '../../core/errors.js';
import type { Capabilities, InboundMessage, JsonObject, OutboundMessage, SendResult } from '../../core/types.js';
import type { EmailConfig } from './config.js';
import { ImapReceiver } from './imap.js';
import { parseMail } from './parse.js';
import { SmtpSender } from './smtp.js';
import { firstLineSubject, ourMessageId, replySubject, threadKeyOf, threadToken } from './thread.js';
import type { OutgoingMail, ParsedMail, RawMail } from './types.js';
import { ReplyCap } from './reply-cap.js';
import { textToHtml } from './html.js';
import { attachmentHandles, fetchEmailAttachment } from './files.js';

/** An email can be long; the core splits only beyond this. */
const EMAIL_MAX_TEXT = 100_000;
/** References kept on a reply (the root and the latest ones). */
const MAX_REFERENCES = 20;

/** What the adapter keeps in a ref's `extra` to answer in the thread. */
interface EmailRefExtra {
  subject: string;
  references: string[];
  threadKey: string;
}

/**
 * Email: IMAP in (imap.ts, IDLE or polling, cursor in the channel state), SMTP out (smtp.ts), every
 * thread its own conversation (thread.ts). The customer is the sender's address, lower-cased. Mail
 * that must not be answered (loops.ts: auto-replies, bounces, lists…) and mail beyond the reply cap
 * is still handed to the hub, marked `noReply`, so agents see it; mail from our own address is not.
 */
export class EmailAdapter implements ChannelAdapter {
  readonly channel = 'email';
  readonly capabilities: Capabilities = { threads: true, buttons: false, maxTextLength: EMAIL_MAX_TEXT, attachments: false, authorNames: true };
  readonly connection = 'long' as const;
  readonly sendNeedsConnection = false;
  private ctx: AdapterContext | undefined;
  private state: ChannelState | undefined;
  private receiver: ImapReceiver | undefined;
  private readonly sender: SmtpSender;
  private readonly cap: ReplyCap;
  private readonly domain: string;
  private readonly own: string;

  constructor(
    private readonly config: EmailConfig,
    private readonly log: Logger,
  ) {
    this.own = config.from.address.toLowerCase();
    this.domain = this.own.split('@')[1] ?? 'switchboard.invalid';
    this.sender = new SmtpSender(config.smtp, { fromAddress: config.from.address, ...(config.dkim ? { dkim: config.dkim } : {}), log });
    this.cap = new ReplyCap(config.replyCapPerHour);
  }

  async mount(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    this.state = ctx.state(this.channel);
    await this.publishAddress();
    // Agents open attachments through the hub's signed links; the fetch reads the mail again over IMAP.
    ctx.serveAttachments?.(this.channel, (handle, signal) => fetchEmailAttachment(this.config, handle, signal));
  }

  async connect(): Promise<void> {
    if (this.receiver) return;
    this.receiver = new ImapReceiver(this.config.imap, { state: this.mounted().state, onMail: (m) => this.onMail(m), log: this.log });
    await this.receiver.start();
  }

  async disconnect(): Promise<void> {
    const r = this.receiver;
    this.receiver = undefined;
    await r?.stop();
  }

  async stop(): Promise<void> {
    await this.disconnect();
    this.sender.close();
  }

  /** One mail from the mailbox: parsed, threaded and handed to the hub (resolves once it is queued). */
  async onMail(raw: RawMail): Promise<void> {
    const { ctx } = this.mounted();
    const mail = await parseMail(raw.source, { maxAttachmentBytes: this.config.maxAttachmentBytes, ownAddresses: [this.own] });
    for (const w of mail.warnings) this.log.warn({ uid: raw.uid, messageId: mail.messageId }, `email: ${w}`);
    if (!mail.from) {
      this.log.warn({ uid: raw.uid, messageId: mail.messageId, subject: mail.subject }, 'email: a mail without a usable From cannot be answered or tied to a customer; left in the mailbox, marked processed');
      return;
    }
    if (mail.from.address === this.own) {
      this.log.info({ uid: raw.uid, messageId: mail.messageId }, 'email: mail from our own address skipped');
      return;
    }
    const msg = await this.toInbound(raw, mail);
    try {
      await ctx.accept(msg);
    } catch (err) {
      // A mail the hub can never take must not hold up the mailbox behind it (it is retried otherwise).
      if (!isHubError(err) || err.code !== 'INPUT_INVALID') throw err;
      this.log.error({ uid: raw.uid, messageId: mail.messageId, from: mail.from.address }, `email: the hub refused this mail, left in the mailbox marked processed: ${err.message}`);
    }
  }

  /** The normalized message of a parsed mail (exported for `email inspect` and tests). */
  async toInbound(raw: Pick<RawMail, 'uid' | 'source'> & Partial<Pick<RawMail, 'uidValidity'>>, mail: ParsedMail): Promise<InboundMessage> {
    const from = mail.from;
    if (!from) throw new HubError('INPUT_INVALID', 'a mail without a From has no sender');
    const messageId = this.boundedId(mail.messageId ?? `<sha256.${createHash('sha256').update(raw.source).digest('hex').slice(0, 32)}@${this.domain}>`);
    const threadKey = this.boundedId(await threadKeyOf(mail, messageId, (token) => this.tokenKey(token)));
    const references = [...mail.references, messageId].filter((x, i, all) => all.indexOf(x) === i);
    const kept = references.length > MAX_REFERENCES ? [references[0] as string, ...references.slice(-(MAX_REFERENCES - 1))] : references;
    const extra: EmailRefExtra = { subject: mail.subject, references: kept, threadKey };
    const startsThread = threadKey === messageId && !/^\s*(re|aw|sv|回复|答复)\s*[:：]/i.test(mail.subject);
    const body = mail.text.trim();
    // The first mail of a thread often asks in its subject: the bot reads both.
    const text = startsThread && mail.subject && !body.includes(mail.subject) ? `${mail.subject}\n\n${body}`.trim() : body;
    const handle = attachmentHandles(this.config.imap, raw);
    const linkToken = this.linkTagOf(mail);
    const skip = mail.skipReason ?? (this.cap.take(from.address, Date.now()) ? undefined : `reply cap reached (${this.config.replyCapPerHour} replies per sender per hour)`);
    return {
      channel: this.channel,
      platformMessageId: messageId,
      platformUserId: from.address,
      ...(from.name ? { userName: from.name.slice(0, 200) } : {}),
      ref: { channel: this.channel, chatId: mail.replyTo ?? from.address, threadId: messageId, extra: extra as unknown as JsonObject },
      threadKey,
      kind: text === '' && mail.attachments.length > 0 ? 'media' : 'text',
      text,
      attachments: mail.attachments.map((a, i) => ({ name: a.name, mimeType: a.mimeType, size: a.size, ...(a.kept && handle ? { fetchHandle: handle(i) } : {}) })),
      receivedAt: mail.date && mail.date <= Date.now() ? mail.date : Date.now(),
      ...(skip ? { noReply: skip } : {}),
      extra: { uid: raw.uid, subject: mail.subject, ...(skip ? { skipReason: skip } : {}), ...(linkToken ? { linkToken } : {}) },
    };
  }

  /**
   * The link tag of a mail sent to our plus address `<local>+link-<tag>@<domain>` (in To, Cc or
   * Delivered-To): the core links the sender with it (`extra.linkToken`, docs/identity.md "Link
   * tokens") and answers the mail as usual. Only the shape is read here; the core checks the token.
   */
  linkTagOf(mail: Pick<ParsedMail, 'to' | 'cc' | 'deliveredTo'>): string | undefined {
    const at = this.own.lastIndexOf('@');
    const prefix = `${this.own.slice(0, at)}+link-`;
    const suffix = this.own.slice(at);
    for (const address of [...mail.deliveredTo, ...mail.to, ...mail.cc]) {
      if (!address.startsWith(prefix) || !address.endsWith(suffix)) continue;
      const tag = address.slice(prefix.length, address.length - suffix.length);
      if (/^[a-z0-9_-]{1,100}$/i.test(tag)) return tag;
    }
    return undefined;
  }

  /**
   * Writes our address to this channel's state (`address`), where the API reads it to build the
   * email link-token reply address (docs/identity.md) in any process. Never fails the mount.
   */
  private async publishAddress(): Promise<void> {
    const state = this.state;
    if (!state || this.own === '') return;
    try {
      const got = await state.get('address');
      if (got?.value !== this.own) await state.set('address', this.own, got?.version ?? 0);
    } catch (err) {
      this.log.warn({ err: String(err) }, 'email: address not stored for link-token reply addresses');
    }
  }

  /**
   * A reply in the conversation's thread (`m.threadKey`: In-Reply-To the customer's latest mail in
   * it, its References, `Re:` and the thread token in the subject), or a new mail starting a thread
   * (a reminder, an alert: the first line as subject, `List-Unsubscribe`).
   */
  async send(m: OutboundMessage): Promise<SendResult> {
    const threadKey = m.threadKey;
    const extra = readExtra(m.ref.extra);
    // The ref is the customer's latest mail; it belongs to this thread unless they wrote elsewhere since.
    const inThread = threadKey !== undefined && extra?.threadKey === threadKey;
    const messageId = ourMessageId(threadKey, m.id, this.domain);
    let subject: string;
    if (threadKey) {
      const token = threadToken(threadKey);
      await this.rememberToken(token, threadKey);
      subject = replySubject(inThread ? extra.subject : '', token);
    } else subject = firstLineSubject(m.text);
    const inReplyTo = inThread ? m.ref.threadId : threadKey;
    const references = inThread ? extra.references : threadKey ? [threadKey] : [];
    const mail: OutgoingMail = {
      to: m.ref.chatId,
      fromName: m.author === 'agent' && m.authorName ? m.authorName : this.fromName(m.text),
      subject,
      text: m.text,
      html: textToHtml(m.text),
      messageId,
      ...(inReplyTo ? { inReplyTo } : {}),
      ...(references.length ? { references } : {}),
      autoReplied: m.author === 'bot',
      // Mail the customer did not ask for (reminders, alerts): one click to stop it.
      ...(threadKey ? {} : { listUnsubscribe: `<mailto:${this.config.from.address}?subject=unsubscribe>` }),
    };
    const sent = await this.sender.send(mail);
    return { platformMessageIds: [sent.messageId] };
  }

  /** A Message-ID as the hub's keys take it: one over 200 characters (seen from some mailers) is replaced by its hash, stably. */
  private boundedId(id: string): string {
    return id.length <= 200 ? id : `<sha256.${createHash('sha256').update(id).digest('hex').slice(0, 40)}@long-id.invalid>`;
  }

  private fromName(text: string): string {
    const name = this.config.from.name;
    if (typeof name === 'string') return name;
    const zh = /[\u3400-\u9fff]/.test(text);
    return (zh ? (name.zh ?? name['zh-CN']) : name.en) ?? Object.values(name)[0] ?? this.config.from.address;
  }

  private async tokenKey(token: string): Promise<string | undefined> {
    const v = (await this.mounted().state.get(`thread:${token}`))?.value;
    return typeof v === 'string' ? v : undefined;
  }

  private async rememberToken(token: string, threadKey: string): Promise<void> {
    const state = this.mounted().state;
    if ((await state.get(`thread:${token}`))?.value === threadKey) return;
    // First writer wins; a (vanishingly rare) collision keeps the older thread.
    await state.set(`thread:${token}`, threadKey, 0);
  }

  private mounted(): { ctx: AdapterContext; state: ChannelState } {
    if (!this.ctx || !this.state) throw new HubError('INTERNAL', 'email adapter is not mounted');
    return { ctx: this.ctx, state: this.state };
  }
}

function readExtra(extra: JsonObject | undefined): EmailRefExtra | undefined {
  if (!extra || typeof extra.threadKey !== 'string') return undefined;
  const refs = Array.isArray(extra.references) ? extra.references.filter((r): r is string => typeof r === 'string') : [];
  return { threadKey: extra.threadKey, subject: typeof extra.subject === 'string' ? extra.subject : '', references: refs };
}
