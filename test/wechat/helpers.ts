import './quiet.js';
import { AssertionError } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { PuppetMock, mock } from 'wechaty-puppet-mock';
import { types, type payloads } from 'wechaty';
import { wechatConfigSchema, type WechatAdapter, type WechatAdapterOptions } from '../../src/adapters/wechat/index.js';
import { createWechatAdapter } from '../../src/adapters/wechat/create.js';
import { until } from '../contract/recording-context.js';

export type Mocker = InstanceType<typeof mock.Mocker>;
export type MockContact = ReturnType<Mocker['createContact']>;
export type MockRoom = ReturnType<Mocker['createRoom']>;

export interface SentRecord {
  to: string;
  text: string;
  mentions: string[];
  at: number;
}

/**
 * What wechaty-puppet-wechat4u throws when webwxsendmsg answers with BaseResponse.Ret != 0 (1205:
 * sending too often): wechat4u checks `assert.equal(data.BaseResponse.Ret, 0, res)` with the HTTP
 * response as the message, so the text is "[object Object]" and the code is in `actual`.
 */
export function webwxRetError(ret: number): Error {
  const response = { data: { BaseResponse: { Ret: ret, ErrMsg: '' }, MsgID: '', LocalID: '' } };
  const err = new AssertionError({ message: String(response), actual: ret, expected: 0, operator: '==' });
  return Object.assign(err, { tips: '发送文本信息失败' });
}

/** The mock puppet, recording what the bot sends (with the time) and the friend requests it accepts. */
export class RecordingPuppet extends PuppetMock {
  readonly sends: SentRecord[] = [];
  readonly accepted: string[] = [];
  readonly friendships = new Map<string, payloads.Friendship>();
  private readonly sendFailures: Error[] = [];

  /** The next text send fails with `err`, thrown by the puppet as a real one throws it. */
  failNextSend(err: Error): void {
    this.sendFailures.push(err);
  }

  override async messageSendText(conversationId: string, text: string, mentionIdList?: string[]): Promise<void> {
    const failure = this.sendFailures.shift();
    if (failure) throw failure;
    this.sends.push({ to: conversationId, text, mentions: mentionIdList ?? [], at: Date.now() });
    return super.messageSendText(conversationId, text);
  }

  override async friendshipRawPayload(id: string): Promise<payloads.Friendship> {
    const p = this.friendships.get(id);
    if (!p) throw new Error(`no friendship ${id}`);
    return p;
  }

  override async friendshipAccept(friendshipId: string): Promise<void> {
    this.accepted.push(friendshipId);
  }

  sentTo(chatId: string): SentRecord[] {
    return this.sends.filter((s) => s.to === chatId);
  }
}

/** A puppet whose start fails, like a puppet-service with a revoked token. */
export class FailingPuppet extends PuppetMock {
  override async onStart(): Promise<void> {
    throw new Error('simulated: the puppet service refused the token');
  }
}

/** Log lines captured as parsed JSON. */
export class LogCapture {
  readonly lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  readonly log: Logger;
  constructor(level = 'debug') {
    const lines = this.lines;
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as LogCapture['lines'][number]);
        cb();
      },
    });
    this.log = pino({ level }, stream);
  }
  has(re: RegExp, minLevel = 0): boolean {
    return this.lines.some((l) => l.level >= minLevel && re.test(l.msg));
  }
}

export function tempDir(): { dir: string; drop(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'sb-wechat-'));
  return { dir, drop: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface WechatRig {
  adapter: WechatAdapter;
  puppet: RecordingPuppet;
  mocker: Mocker;
  /** The bot's own account. */
  user: MockContact;
  dataDir: string;
  contact(id: string, name?: string): MockContact;
  /** The puppet emits a text from contact `from` to the bot; returns the message id. */
  deliverText(from: string, text: string): string;
  /** The puppet emits the message `messageId` again (as after a resync). */
  redeliver(messageId: string): void;
  /** Logs the bot in (once connected) and waits for the adapter to see it. */
  login(): Promise<void>;
  cleanup(): void;
}

/** A WeChat adapter on a real Wechaty driven by wechaty-puppet-mock (not yet mounted or connected). */
export function wechatRig(config: Record<string, unknown> = {}, options: WechatAdapterOptions = {}, log?: Logger): WechatRig {
  const mocker = new mock.Mocker();
  const puppet = new RecordingPuppet({ mocker });
  const tmp = tempDir();
  const cfg = wechatConfigSchema.parse({ enabled: true, ...config });
  const adapter = createWechatAdapter(
    cfg,
    { log: log ?? pino({ level: process.env.TEST_LOG ? 'debug' : 'silent' }), dataDir: tmp.dir },
    { puppetInstance: puppet, printQr: false, ...options },
  );
  const user = mocker.createContact({ name: 'Switchboard Bot' });
  const contacts = new Map<string, MockContact>();
  let messageSeq = 0;
  return {
    adapter,
    puppet,
    mocker,
    user,
    dataDir: tmp.dir,
    contact(id, name) {
      let c = contacts.get(id);
      if (!c) {
        c = mocker.createContact({ id, name: name ?? `Customer ${id}` });
        contacts.set(id, c);
      }
      return c;
    },
    deliverText(from, text) {
      const id = `wx-msg-${++messageSeq}-${Date.now()}`;
      mocker.MessageMock.create({ id, talkerId: this.contact(from).id, listenerId: user.id, timestamp: Date.now(), type: types.Message.Text, text });
      puppet.emit('message', { messageId: id });
      return id;
    },
    redeliver(messageId) {
      puppet.emit('message', { messageId });
    },
    async login() {
      await until(() => adapter.loginState.connected, 10_000, 'wechat connected');
      mocker.login(user);
      await until(() => adapter.loginState.status === 'logged_in', 10_000, 'wechat login');
    },
    cleanup: tmp.drop,
  };
}
