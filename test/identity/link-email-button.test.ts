/**
 * The "Link my email" button path (docs/identity.md "Email one-time codes"): a business offers the
 * button (here through `POST /api/messages` with `buttons`, on a channel that has buttons); a press
 * (or the words "link my email" / "绑定邮箱") gets the request for the address, and the address sent
 * next starts the code as a typed claim does. Other presses and a hub without email pass on.
 * Loopback channels named `telegram` and `email`, the hub as wired.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LoopbackAdapter } from '../../src/adapters/loopback/index.js';
import { generateToken, hashToken } from '../../src/api/tokens.js';
import { processInbound } from '../../src/core/conversation/inbound.js';
import { LINK_EMAIL_BUTTON_VALUE, asksToLinkEmail, linkEmailButton } from '../../src/core/customers/email-code-turn.js';
import { Templates } from '../../src/core/templates.js';
import { startTestHub, until, type TestHub } from '../helpers/hub.js';
import { inbound } from './helpers.js';

const CRM = generateToken();
const ASK_EN = /Please send your email address/;

describe('the "Link my email" button', () => {
  let t: TestHub;
  const tg = new LoopbackAdapter({ channel: 'telegram' });
  const mail = new LoopbackAdapter({ channel: 'email' });
  /** A Telegram message; the hub's latest answer to that user. */
  const tell = async (user: string, text: string, more = {}): Promise<string> => {
    await processInbound(t.hub.inboundDeps(), inbound('telegram', user, text, { locale: 'en', ...more }));
    const id = await t.hub.storage.customers.findIdentity('telegram', user);
    const out = (await t.hub.storage.messages.ofCustomer(id?.customerId ?? '', 100)).filter((m) => m.direction === 'out' && m.channel === 'telegram');
    return out.at(-1)?.text ?? '';
  };
  const press = (user: string, value: string, label = 'Link my email') => tell(user, label, { kind: 'button', buttonValue: value });

  before(async () => {
    t = await startTestHub({
      adapters: [tg, mail],
      responder: { respond: async (turn) => ({ kind: 'answer', text: `bot: ${turn.text}`, confidence: 0.9 }) },
      config: { api: { tokens: [{ name: 'crm', roles: ['events'], sha256: hashToken(CRM) }] } },
    });
  });
  after(async () => {
    await t.stop();
  });

  it('offered by the business, pressed, asked for the address; the address starts the code', async () => {
    await tell('601', 'hello');
    const button = linkEmailButton(Templates.load('config/templates/identity.yaml'), 'en');
    assert.deepEqual(button, { label: 'Link my email', value: LINK_EMAIL_BUTTON_VALUE });
    const res = await fetch(`${t.hub.url}/api/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CRM}`, 'content-type': 'application/json' },
      body: JSON.stringify({ customer: { identities: [{ channel: 'telegram', id: '601' }] }, text: 'Get your receipts by mail:', buttons: [button] }),
    });
    assert.equal(res.status, 202);
    const offered = await until(() => tg.sent.find((m) => m.text === 'Get your receipts by mail:'));
    assert.deepEqual(offered.buttons, [button]);

    assert.match(await press('601', LINK_EMAIL_BUTTON_VALUE), ASK_EN);
    assert.match(await tell('601', 'mei@example.com'), /sent a 6-digit code/);
    await until(() => mail.sent.find((m) => m.ref.chatId === 'mei@example.com'), 10_000, 'the code mail');
  });

  it('the words ask the same, in either language; other presses and other texts go to the bot', async () => {
    assert.match(await tell('602', 'link my email'), ASK_EN);
    assert.match(await tell('603', 'Please link my e-mail address.'), ASK_EN);
    assert.match(await tell('604', '绑定邮箱', { locale: 'zh-CN' }), /请发送您的邮箱地址/);
    assert.equal(await press('605', 'buy:42', 'Buy'), 'bot: Buy');
    assert.equal(await tell('606', 'how do I link my email to my order?'), 'bot: how do I link my email to my order?');
    assert.equal(asksToLinkEmail({ kind: 'command', text: 'link my email' }), false);
  });
});
