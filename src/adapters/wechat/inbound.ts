import type { Logger } from 'pino';
import type { Friendship, Message } from 'wechaty';
import type { AdapterContext } from '../../core/adapter.js';
import { HubError, errorMessage, isHubError } from '../../core/errors.js';
import type { InboundMessage } from '../../core/types.js';
import { CHANNEL, type WechatAdapterOptions, type WechatConfig } from './config.js';
import { mapMessage, safe } from './mapper.js';
import type { PacingClock } from './pacing.js';

export interface InboundDeps {
  config: WechatConfig;
  log: Logger;
  clock: PacingClock;
  options: WechatAdapterOptions;
  /** The hub's context while the adapter is mounted. */
  ctx(): AdapterContext | undefined;
  stopped(): boolean;
  /** Aborted when the connection closes (ends the wait between two accept tries). */
  signal(): AbortSignal;
}

/** What the puppet hands in: messages (mapped and queued, per talker in order) and friend requests. */
export class WechatInbound {
  private readonly chains = new Map<string, Promise<void>>();
  private readonly log: Logger;

  constructor(private readonly d: InboundDeps) {
    this.log = d.log;
  }

  /** Messages of one talker are handled in arrival order (mapping awaits the puppet). */
  onMessage(msg: Message): void {
    const key = safe(() => msg.talker().id) ?? '?';
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(() => this.handleMessage(msg));
    this.chains.set(key, next);
    void next
      .catch((err: unknown) => this.log.warn(`wechat: handling a message: ${errorMessage(err)}`))
      .finally(() => {
        if (this.chains.get(key) === next) this.chains.delete(key);
      });
  }

  async onFriendship(f: Friendship): Promise<void> {
    try {
      const contact = f.contact();
      const who = safe(() => contact.name()) || contact.id;
      const type = f.type();
      // FriendshipType: 1 Confirm, 2 Receive, 3 Verify.
      if (type === 2) {
        if (this.d.config.acceptFriendRequests) {
          await f.accept();
          this.log.info({ contact: contact.id }, `wechat: friend request from ${who} accepted`);
        } else {
          this.log.info({ contact: contact.id }, `wechat: friend request from ${who} not accepted (acceptFriendRequests: false)`);
        }
      } else if (type === 1) {
        this.log.info({ contact: contact.id }, `wechat: now friends with ${who}`);
      } else {
        this.log.debug({ contact: contact.id, type }, 'wechat: friendship event ignored');
      }
    } catch (err) {
      this.log.warn(`wechat: handling a friend request: ${errorMessage(err)}`);
    }
  }

  /** Resolves once every message being handled is queued, refused or logged as lost. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.chains.values()]);
  }

  private async handleMessage(msg: Message): Promise<void> {
    let result;
    try {
      result = await mapMessage(msg, { channel: CHANNEL, allowedRooms: this.d.config.allowedRooms, now: () => this.d.clock.now() });
    } catch (err) {
      this.log.warn({ messageId: msg.id }, `wechat: cannot read message: ${errorMessage(err)}; ignored`);
      return;
    }
    if (result.kind === 'ignore') {
      this.log.debug({ messageId: msg.id }, `wechat: ignored message: ${result.reason}`);
      return;
    }
    await this.deliver(result.message);
  }

  /**
   * WeChat has no acknowledgement or redelivery: once wechaty emitted a message, this process is the
   * only copy. ctx.accept is retried in memory (default 6 tries over ~15 s); a message still not
   * queued after that, or when the process dies meanwhile, is lost. It is logged at error level with
   * its id, sender and text so someone can answer by hand.
   */
  private async deliver(msg: InboundMessage): Promise<void> {
    const attempts = this.d.options.acceptAttempts ?? 6;
    const base = this.d.options.acceptRetryBaseMs ?? 500;
    for (let attempt = 1; ; attempt++) {
      const ctx = this.d.ctx();
      try {
        if (!ctx) throw new HubError('NETWORK', 'adapter stopped', { retry: 'retry' });
        await ctx.accept(msg);
        if (attempt > 1) this.log.info({ messageId: msg.platformMessageId }, `wechat: message queued after ${attempt} tries`);
        return;
      } catch (err) {
        if (isHubError(err) && err.retry === 'final') {
          this.log.warn({ messageId: msg.platformMessageId, code: err.code }, `wechat: message refused by the hub: ${err.message}`);
          return;
        }
        if (attempt >= attempts || !ctx || this.d.stopped()) {
          this.log.error(
            { messageId: msg.platformMessageId, from: msg.platformUserId, chatId: msg.ref.chatId, text: msg.text.slice(0, 500), attempts: attempt },
            `wechat: LOST inbound message: the hub could not queue it (${errorMessage(err)}); WeChat will not redeliver it`,
          );
          return;
        }
        const delay = base * 2 ** (attempt - 1);
        this.log.warn({ messageId: msg.platformMessageId }, `wechat: could not queue message (${errorMessage(err)}); retry ${attempt}/${attempts - 1} in ${delay} ms`);
        await this.d.clock.sleep(delay, this.d.signal()).catch(() => undefined);
      }
    }
  }
}
