import { Telegram } from 'telegraf';
import type { Logger } from 'pino';
import type { AdapterContext, AttachmentContent, ChannelAdapter } from '../../core/adapter.js';
import { HubError, errorMessage, isHubError } from '../../core/errors.js';
import type { Button, Capabilities, InboundMessage, OutboundMessage, SendResult } from '../../core/types.js';
import type { TelegramConfig } from './config.js';
import { mapUpdate, type MapEnv } from './mapper.js';
import { Poller, apiSignal } from './polling.js';
import { webhookHandler } from './webhook.js';
import { inlineKeyboard, isHashedCallbackData, resolveHashedValue } from './buttons.js';
import { isAbort, scrubToken, toHubError } from './api-errors.js';
import { ALLOWED_UPDATES, updateIdOf } from './update-schema.js';
import { fetchTelegramFile } from './files.js';

export const TELEGRAM_MAX_TEXT = 4096;
/** Button values looked up in the customer's history to resolve a hashed `callback_data`. */
const HISTORY_FOR_BUTTONS = 30;
/** A send that hangs longer is abandoned and retried (the platform may have delivered it). */
const SEND_TIMEOUT_MS = 30_000;


/**
 * Telegram through the Bot API (telegraf's `Telegram` client). Polling mode holds one getUpdates
 * loop under the hub's lease; webhook mode serves `webhook.path` from every process and, when
 * `webhook.url` is set, registers it with setWebhook from the process holding the lease.
 * Text is sent without `parse_mode`, so a customer's `*_[<` can never break a send.
 */
export class TelegramAdapter implements ChannelAdapter {
  readonly channel = 'telegram';
  readonly capabilities: Capabilities = { threads: false, buttons: true, maxTextLength: TELEGRAM_MAX_TEXT, attachments: false, authorNames: false };
  readonly connection: 'long' | 'stateless';
  readonly sendNeedsConnection = false;
  readonly telegram: Telegram;
  private ctx: AdapterContext | undefined;
  private poller: Poller | undefined;
  private username: Promise<string> | undefined;
  private readonly allowedGroups: ReadonlySet<string>;

  constructor(
    private readonly config: TelegramConfig,
    private readonly log: Logger,
  ) {
    this.telegram = new Telegram(config.token, { apiRoot: config.apiRoot, webhookReply: false });
    this.allowedGroups = new Set(config.allowedGroups.map(String));
    if (config.botUsername) this.username = Promise.resolve(config.botUsername.replace(/^@/, ''));
    this.connection = config.mode === 'polling' || config.webhook.url !== undefined ? 'long' : 'stateless';
  }

  async mount(ctx: AdapterContext): Promise<void> {
    this.ctx = ctx;
    // Agents open customers' files through the hub's signed links, never a URL holding the token.
    ctx.serveAttachments?.(this.channel, (fileId, signal) => this.fetchAttachment(fileId, signal));
    if (this.config.botUsername) this.publishUsername();
    if (this.config.mode === 'webhook') {
      ctx.http.route(
        'POST',
        this.config.webhook.path,
        webhookHandler({
          secretToken: this.config.webhook.secretToken ?? '',
          log: this.log,
          handle: (u) => this.handleUpdate(u),
        }),
      );
    }
  }

  async connect(): Promise<void> {
    this.publishUsername();
    if (this.config.mode === 'webhook') {
      await this.registerWebhook();
      return;
    }
    if (this.poller?.running) return;
    // getUpdates answers 409 while a webhook is set; pending updates are kept.
    await this.call('deleteWebhook', () => this.telegram.deleteWebhook({ drop_pending_updates: false }));
    await this.botUsername();
    this.poller = new Poller({
      telegram: this.telegram,
      token: this.config.token,
      log: this.log,
      timeoutSec: this.config.pollingTimeoutSec,
      handle: (u) => this.handleUpdate(u),
    });
    this.poller.start();
    this.log.info(`telegram: long polling ${this.apiHost()} as @${await this.botUsername()}`);
  }

  async disconnect(): Promise<void> {
    const p = this.poller;
    this.poller = undefined;
    await p?.stop();
  }

  async stop(): Promise<void> {
    await this.disconnect();
    this.ctx = undefined;
  }

  /**
   * Maps one update and hands it to the hub. Resolves when it may be acknowledged (queued, or
   * ignored for a logged reason); rejects when Telegram must deliver it again.
   */
  async handleUpdate(raw: unknown): Promise<void> {
    const ctx = this.ctx;
    if (!ctx) throw new HubError('NETWORK', 'telegram adapter is not mounted', { retry: 'retry' });
    const env: MapEnv = { botUsername: await this.knownUsername(), allowedGroups: this.allowedGroups, now: Date.now() };
    let mapped = mapUpdate(raw, env);
    if (!mapped.ok && mapped.needsBotUsername) mapped = mapUpdate(raw, { ...env, botUsername: await this.botUsername() });
    const updateId = updateIdOf(raw);
    if (!mapped.ok) {
      const level = mapped.quiet ? 'debug' : 'info';
      this.log[level]({ updateId }, `telegram update ignored: ${mapped.reason}`);
      if (mapped.callbackQueryId) await this.answerCallback(mapped.callbackQueryId);
      return;
    }
    const message = await this.resolveButton(ctx, mapped.message);
    try {
      await ctx.accept(message);
    } catch (err) {
      if (!isHubError(err, 'INPUT_INVALID')) throw err;
      this.log.warn({ updateId }, `telegram update refused by the hub, dropped: ${err.message}`);
    } finally {
      if (mapped.callbackQueryId) await this.answerCallback(mapped.callbackQueryId);
    }
  }

  async send(m: OutboundMessage): Promise<SendResult> {
    const text = m.text;
    if (text.trim() === '') throw new HubError('PLATFORM_REFUSED', 'Telegram cannot send an empty text', { retry: 'final' });
    if (text.length > TELEGRAM_MAX_TEXT) {
      throw new HubError('PLATFORM_REFUSED', `text is ${text.length} characters, Telegram takes ${TELEGRAM_MAX_TEXT}`, { retry: 'final' });
    }
    const replyTo = m.ref.extra?.chatType !== 'private' ? m.ref.extra?.messageId : undefined;
    const sent = await this.call('sendMessage', () =>
      this.telegram.callApi(
        'sendMessage',
        {
          chat_id: m.ref.chatId,
          text,
          ...(m.buttons?.length ? { reply_markup: inlineKeyboard(m.buttons) } : {}),
          ...(typeof replyTo === 'number' ? { reply_parameters: { message_id: replyTo, allow_sending_without_reply: true } } : {}),
          link_preview_options: { is_disabled: true },
        },
        { signal: apiSignal(AbortSignal.timeout(SEND_TIMEOUT_MS)) },
      ),
    );
    return { platformMessageIds: [String(sent.message_id)] };
  }

  /**
   * The bytes of an attachment's `fetchHandle` (a file_id), via getFile and the Bot API file
   * endpoint; the token stays inside (see files.ts). Over 20 MB the cloud Bot API refuses
   * (PLATFORM_REFUSED); a self-hosted Bot API server (`apiRoot`) lifts that limit.
   */
  fetchAttachment(fileId: string, signal: AbortSignal = AbortSignal.timeout(SEND_TIMEOUT_MS)): Promise<AttachmentContent> {
    return fetchTelegramFile(this.telegram, this.config, fileId, signal);
  }

  /** Registers `webhook.url` with its secret (idempotent). */
  async registerWebhook(): Promise<void> {
    const url = this.config.webhook.url;
    if (!url) return;
    await this.call('setWebhook', () =>
      this.telegram.setWebhook(url, {
        ...(this.config.webhook.secretToken ? { secret_token: this.config.webhook.secretToken } : {}),
        allowed_updates: [...ALLOWED_UPDATES],
      }),
    );
    this.log.info(`telegram: webhook registered at ${url}`);
  }

  /** The bot's username: from config, else getMe (cached once it succeeded). */
  async botUsername(): Promise<string> {
    if (!this.username) {
      const asked = this.call('getMe', () => this.telegram.getMe()).then((me) => me.username);
      this.username = asked;
      asked.catch(() => {
        if (this.username === asked) this.username = undefined;
      });
    }
    return this.username;
  }

  /**
   * Writes the bot's username to this channel's state (`bot_username`), where the API reads it to
   * build `/start` deep links for link tokens (docs/identity.md) in any process. Never fails the caller.
   */
  private publishUsername(): void {
    const state = this.ctx?.state(this.channel);
    if (!state) return;
    void this.botUsername()
      .then(async (name) => {
        const got = await state.get('bot_username');
        if (got?.value !== name) await state.set('bot_username', name, got?.version ?? 0);
      })
      .catch((err: unknown) => this.log.warn({ err: String(err) }, 'telegram: bot username not stored for deep links'));
  }

  /** The username when known or being asked (set from config in the constructor); never asks. */
  private async knownUsername(): Promise<string | undefined> {
    return this.username?.catch(() => undefined);
  }

  /** A press on a button whose value was too long for callback_data: find the value in history. */
  private async resolveButton(ctx: AdapterContext, m: InboundMessage): Promise<InboundMessage> {
    if (m.kind !== 'button' || m.buttonValue === undefined || !isHashedCallbackData(m.buttonValue)) return m;
    const history = await ctx.history(this.channel, m.platformUserId, HISTORY_FOR_BUTTONS);
    const buttons: Button[] = history.flatMap((h) => h.buttons ?? []);
    const value = resolveHashedValue(m.buttonValue, buttons);
    if (value === undefined) {
      this.log.warn({ platformMessageId: m.platformMessageId }, 'telegram button press: value not found in recent history; using the label');
      return { ...m, buttonValue: m.text };
    }
    return { ...m, buttonValue: value };
  }

  private async answerCallback(id: string): Promise<void> {
    try {
      await this.telegram.answerCbQuery(id);
    } catch (err) {
      // An old or already answered query (a redelivery) is refused; nothing to do about it.
      this.log.debug(`telegram answerCallbackQuery failed: ${scrubToken(errorMessage(err), this.config.token)}`);
    }
  }

  private async call<T>(method: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (isAbort(err)) throw new HubError('NETWORK', `Telegram ${method}: no answer within ${SEND_TIMEOUT_MS / 1000} s`, { retry: 'retry' });
      throw toHubError(err, this.config.token, method);
    }
  }

  private apiHost(): string {
    return new URL(this.config.apiRoot).host;
  }
}
