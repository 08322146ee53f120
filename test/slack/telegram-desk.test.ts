import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { telegramConfigSchema } from '../../src/adapters/telegram/index.js';
import { TelegramAdapter } from '../../src/adapters/telegram/adapter.js';
import { signedFilePath } from '../../src/http/signed-files.js';
import { LINK_KEY } from '../../src/hub/files.js';
import { startFakeTelegram, type FakeTelegram } from '../fakes/telegram-bot-api.js';
import { caseOf, startSlackHub, threadPosts, waitFor, type SlackHub } from './helpers.js';

/** A Telegram display name that tries to ping the whole channel and fake a link. */
const EVIL = '<!channel> <https://evil.example|Bank Support>';
const PHOTO = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.from('JFIF photo bytes \u0000\u00ff', 'latin1')]);

/** Slack shows a link's URL with `&` as `&amp;`: the URL an agent's browser opens. */
function linkIn(text: string): string | undefined {
  const m = /<(https?:\/\/[^|>]+)\|[^>]*>/.exec(text);
  return m?.[1]?.replace(/&amp;/g, '&');
}

describe('Telegram customer escalated to the Slack desk (fake Telegram, fake Slack, real hub)', () => {
  let tg: FakeTelegram;
  let h: SlackHub;
  const logs: string[] = [];
  const user = 770_000_001;

  before(async () => {
    tg = await startFakeTelegram();
    const log = pino({ level: 'debug' }, { write: (s: string) => void logs.push(s) });
    const adapter = new TelegramAdapter(telegramConfigSchema.parse({ enabled: true, token: tg.token, apiRoot: tg.apiRoot, pollingTimeoutSec: 1 }), log);
    h = await startSlackHub({ adapters: [adapter], publicUrl: true, logs, slack: { unclaimedReminderMinutes: 0 } });
    await tg.waitFor(() => tg.callsOf('getUpdates').length > 0, 5000, 'the hub to poll Telegram');
  });
  after(async () => {
    await h.stop();
    await tg.close();
  });

  it('a display name with <!channel> and a fake link is escaped in the case message text, its blocks, updates and thread posts', async () => {
    tg.pushUpdate(tg.updates.text(user, 'I want a human', { first_name: EVIL }));
    const { ref } = await caseOf(h, String(user), 'telegram');
    tg.pushUpdate(tg.updates.text(user, 'hello <!here> & <@U0ADMIN> see <https://evil.example/login|your bank>', { first_name: EVIL }));
    const relay = await waitFor(() => threadPosts(h, ref.ts).find((p) => p.text.includes('hello')), 'relay of the second message');
    assert.equal(
      relay.text,
      '*[telegram]* *&lt;!channel&gt; &lt;https://evil.example|Bank Support&gt;*: hello &lt;!here&gt; &amp; &lt;@U0ADMIN&gt; see &lt;https://evil.example/login|your bank&gt;',
    );
    const caseMsg = h.fake.ok('chat.postMessage').find((c) => c.body.thread_ts === undefined);
    assert.ok(caseMsg);
    const text = String(caseMsg.body.text);
    assert.ok(text.includes('&lt;!channel&gt;'), text);
    assert.ok(!text.includes('<!channel>') && !text.includes('<https://evil'), `raw markup in the notification text: ${text}`);
    const blocks = JSON.stringify(caseMsg.body.blocks);
    assert.ok(blocks.includes('&lt;!channel&gt;'), blocks);
    // Every text object that can hold the customer's words is shown verbatim (no automatic @-mention or link parsing).
    const mrkdwn = (caseMsg.body.blocks as { text?: { type: string; verbatim?: boolean } }[]).flatMap((b) => (b.text?.type === 'mrkdwn' ? [b.text] : []));
    assert.ok(mrkdwn.length > 0 && mrkdwn.every((t) => t.verbatim === true));
    // Nothing the desk sent to Slack (case message, its updates, thread posts) carries the raw markup.
    for (const c of h.fake.calls.filter((x) => x.method.startsWith('chat.'))) {
      const body = JSON.stringify([c.body.text, c.body.blocks]);
      for (const raw of ['<!channel>', '<!here>', '<https://evil', '<@U0ADMIN>']) assert.ok(!body.includes(raw), `${c.method} sent ${raw}: ${body}`);
    }
  });

  it('a photo is relayed as a signed hub link without the bot token; the link returns the bytes from Telegram', async () => {
    const { ref } = await caseOf(h, String(user), 'telegram');
    tg.addFile('AgACAgIAAxkBAAIBZ2b_PHOTO1', PHOTO.length, PHOTO, 'photos/file_41.jpg');
    tg.pushUpdate(tg.updates.photo(user, 'AgACAgIAAxkBAAIBZ2b_PHOTO1', { first_name: EVIL }));
    const relay = await waitFor(() => threadPosts(h, ref.ts).find((p) => p.text.includes(':paperclip:')), 'photo relayed');
    const url = linkIn(relay.text);
    assert.ok(url, `a link in ${relay.text}`);
    assert.ok(url.startsWith(`${h.t.config.server.publicUrl}/files/telegram/AgACAgIAAxkBAAIBZ2b_PHOTO1?exp=`), url);
    assert.match(relay.text, /\|photo_AQADPHOTO1\.jpg>/);
    for (const c of h.fake.calls) {
      const body = JSON.stringify(c.body);
      assert.ok(!body.includes(tg.token) && !body.includes(tg.token.split(':')[1] ?? '-'), `${c.method} carried the bot token`);
      assert.ok(!body.includes(tg.apiRoot), `${c.method} carried a Bot API URL`);
    }
    const downloadsBefore = tg.downloads.length;
    const res = await fetch(url);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/jpeg');
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.deepEqual(Buffer.from(await res.arrayBuffer()), PHOTO);
    assert.deepEqual(tg.downloads.slice(downloadsBefore), [{ path: 'photos/file_41.jpg', token: true }], 'fetched from the Bot API by the hub, with the token');
    assert.ok(!logs.some((l) => l.includes(tg.token)), 'the token is in no log line');
  });

  it('a tampered, expired, unsigned or unknown-channel link is refused and fetches nothing', async () => {
    const { ref } = await caseOf(h, String(user), 'telegram');
    const url = linkIn((await waitFor(() => threadPosts(h, ref.ts).find((p) => p.text.includes(':paperclip:')), 'photo relay')).text) ?? '';
    const u = new URL(url);
    const exp = Number(u.searchParams.get('exp'));
    const sig = u.searchParams.get('sig') ?? '';
    // Valid for the configured 24 hours by default (a case waiting overnight still opens).
    assert.ok(exp * 1000 > Date.now() + 23.9 * 3600_000 && exp * 1000 <= Date.now() + 24 * 3600_000 + 2000, `exp ${exp}`);
    const downloads = tg.downloads.length;
    const at = (path: string) => fetch(new URL(path, u.origin));
    const flipped = `${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`;
    const cases: [string, string, number, RegExp][] = [
      ['tampered signature', `${u.pathname}?exp=${exp}&sig=${flipped}`, 403, /signature does not match/],
      ['exp moved later', `${u.pathname}?exp=${exp + 3600}&sig=${sig}`, 403, /signature does not match/],
      ['another file, same signature', `/files/telegram/AgACAgIAAxkBAAIBZ2b_OTHER?exp=${exp}&sig=${sig}`, 403, /signature does not match/],
      ['no signature', u.pathname, 403, /missing or malformed/],
      ['unknown channel', `/files/fax/AgACAgIAAxkBAAIBZ2b_PHOTO1?exp=${exp}&sig=${sig}`, 404, /no channel/],
    ];
    const stored = await h.t.hub.storage.channelState.get(LINK_KEY.channel, LINK_KEY.key);
    const key = Buffer.from(String(stored?.value), 'base64url');
    const past = Math.floor(Date.now() / 1000) - 60;
    cases.push(['correctly signed but expired', signedFilePath(key, 'telegram', 'AgACAgIAAxkBAAIBZ2b_PHOTO1', past), 403, /expired/]);
    // The key is what the hub signs with: the same path with a future expiry works.
    const fresh = await at(signedFilePath(key, 'telegram', 'AgACAgIAAxkBAAIBZ2b_PHOTO1', past + 600));
    assert.equal(fresh.status, 200);
    await fresh.arrayBuffer();
    const afterFresh = tg.downloads.length;
    assert.equal(afterFresh, downloads + 1);
    for (const [what, path, status, text] of cases) {
      const r = await at(path);
      const body = await r.text();
      assert.equal(r.status, status, `${what}: ${r.status} ${body}`);
      assert.match(body, text, what);
      assert.ok(!body.includes(tg.token), what);
    }
    assert.equal(tg.downloads.length, afterFresh, 'refused links fetch nothing from Telegram');
  });

  it('a file Telegram no longer has is 404, one too big for the Bot API is 502 with the reason; neither shows the token', async () => {
    const stored = await h.t.hub.storage.channelState.get(LINK_KEY.channel, LINK_KEY.key);
    const key = Buffer.from(String(stored?.value), 'base64url');
    const exp = Math.floor(Date.now() / 1000) + 600;
    tg.addFile('BQACAgIAAxkBAAIBaWb_huge', 52_428_800);
    const base = h.t.config.server.publicUrl ?? '';
    const gone = await fetch(`${base}${signedFilePath(key, 'telegram', 'unknown-file', exp)}`);
    const big = await fetch(`${base}${signedFilePath(key, 'telegram', 'BQACAgIAAxkBAAIBaWb_huge', exp)}`);
    assert.equal(gone.status, 404);
    assert.equal(big.status, 502);
    const bigText = await big.text();
    assert.match(bigText, /file is too big.*20 MB/);
    for (const t of [await gone.text(), bigText]) assert.ok(!t.includes(tg.token) && !t.includes('/file/bot'), t);
  });
});
