import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseClientFrame, toInbound, toServerMessage } from '../../src/adapters/webchat/mapper.js';
import { VisitorSigner, loadSecret, visitorCookie } from '../../src/adapters/webchat/session.js';
import { webchatConfigSchema } from '../../src/adapters/webchat/config.js';
import { validateInbound } from '../../src/core/pipeline/validate.js';

describe('webchat mapper', () => {
  it('maps message and button frames to inbound messages keyed by visitor and client id', () => {
    const f = parseClientFrame('{"type":"message","id":"a1","text":"hi"}');
    assert.ok(f.ok && f.frame.type === 'message');
    const m = validateInbound(toInbound(f.frame, 'a1', { visitorId: 'V'.repeat(22), locale: 'zh-CN' }, 1000));
    assert.equal(m.platformMessageId, `${'V'.repeat(22)}:a1`);
    assert.deepEqual(m.ref, { channel: 'webchat', chatId: 'V'.repeat(22) });
    assert.equal(m.locale, 'zh-CN');
    const b = parseClientFrame('{"type":"button","value":"more","label":"More"}');
    assert.ok(b.ok && b.frame.type === 'button');
    const bm = toInbound(b.frame, 'x', { visitorId: 'v' }, 1);
    assert.equal(bm.kind, 'button');
    assert.equal(bm.buttonValue, 'more');
    assert.equal(bm.text, 'More');
  });

  it('names what is wrong with a frame and keeps the client id when it can', () => {
    const cases: [string, string][] = [
      ['', 'BAD_FRAME'],
      ['null', 'BAD_FRAME'],
      ['"str"', 'BAD_FRAME'],
      ['{}', 'UNKNOWN_TYPE'],
      ['{"type":"message","id":"q1","text":5}', 'BAD_FRAME'],
      ['{"type":"button","id":"q2","label":"x"}', 'BAD_FRAME'],
    ];
    for (const [raw, code] of cases) {
      const r = parseClientFrame(raw);
      assert.ok(!r.ok, raw);
      assert.equal(r.code, code, raw);
    }
    const r = parseClientFrame('{"type":"message","id":"q1","text":5}');
    assert.ok(!r.ok && r.id === 'q1' && /text/.test(r.message));
  });

  it('maps outbound messages, with the agent name and buttons', () => {
    const f = toServerMessage({
      id: 'o1',
      conversationId: 'c',
      ref: { channel: 'webchat', chatId: 'v' },
      text: 'hello',
      author: 'agent',
      authorName: 'Mei',
      buttons: [{ label: 'Yes', value: 'y' }],
    });
    assert.deepEqual(f, { type: 'message', id: 'o1', author: 'agent', authorName: 'Mei', text: 'hello', buttons: [{ label: 'Yes', value: 'y' }] });
  });
});

describe('webchat visitor identity', () => {
  it('verifies only tokens signed with the same secret', () => {
    const s = new VisitorSigner('secret-one-0123456789');
    const id = s.newVisitorId();
    const token = s.sign(id);
    assert.equal(s.verify(token), id);
    assert.equal(new VisitorSigner('secret-two-0123456789').verify(token), undefined);
    assert.equal(s.verify(id), undefined);
    assert.equal(s.verify(`${id}.`), undefined);
    assert.equal(s.verify(`${s.newVisitorId()}.${token.split('.')[1]}`), undefined);
    assert.equal(s.verify(`${token}x`), undefined);
    assert.equal(visitorCookie(token, true), `sb_wc=${token}; Max-Age=31536000; Path=/; HttpOnly; Secure; SameSite=None`);
    assert.equal(visitorCookie(token, false), `sb_wc=${token}; Max-Age=31536000; Path=/; HttpOnly; SameSite=Lax`);
  });

  it('generates the secret once and reuses it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-wc-secret-'));
    try {
      const a = await loadSecret(undefined, join(dir, 'data'));
      const b = await loadSecret(undefined, join(dir, 'data'));
      assert.equal(a, b);
      assert.ok(a.length >= 32);
      assert.equal(readFileSync(join(dir, 'data', 'webchat-secret'), 'utf8').trim(), a);
      assert.equal(statSync(join(dir, 'data', 'webchat-secret')).mode & 0o777, 0o600);
      assert.equal(await loadSecret('configured-secret-xyz', dir), 'configured-secret-xyz');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has sane config defaults and refuses bad origins and short secrets', () => {
    const c = webchatConfigSchema.parse({});
    assert.deepEqual(c, { enabled: true, allowedOrigins: [], rateLimit: { perSecond: 2, burst: 10 }, trustProxy: false });
    assert.deepEqual(webchatConfigSchema.parse({ allowedOrigins: ['https://a.example/', '*'] }).allowedOrigins, ['https://a.example', '*']);
    assert.throws(() => webchatConfigSchema.parse({ allowedOrigins: ['a.example'] }));
    assert.throws(() => webchatConfigSchema.parse({ cookieSecret: 'short' }));
  });
});
