import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { firstLineSubject, ourMessageId, replySubject, threadKeyInOurId, threadKeyOf, threadToken } from '../../src/adapters/email/thread.js';

const none = async () => undefined;

describe('email threads', () => {
  it('our Message-IDs carry the thread key; anyone else\'s carry none', () => {
    const id = ourMessageId('<CAF=x+y/1@mail.gmail.com>', 'row-1', 'shop.example');
    assert.match(id, /^<sb\.[A-Za-z0-9_-]+\.row-1@shop\.example>$/);
    assert.equal(threadKeyInOurId(id), '<CAF=x+y/1@mail.gmail.com>');
    assert.equal(threadKeyInOurId('<CAF=x+y/1@mail.gmail.com>'), undefined);
    assert.equal(threadKeyInOurId(ourMessageId(undefined, 'row-2', 'shop.example')), undefined);
    assert.equal(threadKeyInOurId('<sb.Zm9v.x@evil.example>'), undefined, 'a forged id without a Message-ID inside gives nothing');
  });

  it('a reply finds its thread: our id it answers, else the References root, else In-Reply-To, else the token, else itself', async () => {
    const ours = ourMessageId('<root@a.example>', 'r1', 'shop.example');
    assert.equal(await threadKeyOf({ inReplyTo: ours, references: [] }, '<new@a>', none), '<root@a.example>');
    assert.equal(await threadKeyOf({ inReplyTo: '<x@b>', references: ['<root2@b>', '<x@b>'] }, '<new@a>', none), '<root2@b>');
    assert.equal(await threadKeyOf({ inReplyTo: '<x@b>', references: [] }, '<new@a>', none), '<x@b>');
    assert.equal(await threadKeyOf({ references: [], caseToken: 'abc123' }, '<new@a>', async (t) => (t === 'abc123' ? '<root3@c>' : undefined)), '<root3@c>');
    assert.equal(await threadKeyOf({ references: [], caseToken: 'zzzz' }, '<new@a>', none), '<new@a>');
    assert.equal(await threadKeyOf({ references: [] }, '<new@a>', none), '<new@a>');
    // A reply to a proactive mail of ours (no thread inside): the thread starts at that mail.
    const proactive = ourMessageId(undefined, 'p1', 'shop.example');
    assert.equal(await threadKeyOf({ inReplyTo: proactive, references: [proactive] }, '<new@a>', none), proactive);
  });

  it('subjects: Re: once, one token, a first line for new mail', () => {
    const tok = threadToken('<root@a.example>');
    assert.match(tok, /^[a-z0-9]{10}$/);
    assert.equal(threadToken('<root@a.example>'), tok, 'stable');
    assert.equal(replySubject('Where is my order?', tok), `Re: Where is my order? [#${tok}]`);
    assert.equal(replySubject(`RE: Re: 回复: Where is my order? [#${tok}]`, tok), `Re: Where is my order? [#${tok}]`);
    assert.equal(replySubject('', tok), `Re: (no subject) [#${tok}]`);
    assert.equal(firstLineSubject('\nYour plan renews on 1 January.\nDetails below.'), 'Your plan renews on 1 January.');
    assert.equal(firstLineSubject('x'.repeat(100)).length, 78);
  });
});
