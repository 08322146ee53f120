import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { KnowledgeBot } from '../../src/knowledge/bot.js';
import { botConfigSchema } from '../../src/knowledge/config.js';
import { SmallTalkMatcher, smallTalkWarnings } from '../../src/knowledge/small-talk.js';
import { parseKnowledgeFile } from '../../src/knowledge/loader.js';
import { tempCopy, turn } from './helpers.js';

const m = new SmallTalkMatcher();

test('small talk alone is recognized by kind, in Chinese and English, through punctuation and emoji', () => {
  const cases: [string, string][] = [
    ['你好', 'greeting'],
    ['你好呀～', 'greeting'],
    ['亲，在吗？', 'greeting'],
    ['Hi there 👋', 'greeting'],
    ['Good morning!', 'greeting'],
    ['请问', 'help'],
    ['I have a question', 'help'],
    ['can you help me?', 'help'],
    ['谢谢啦', 'thanks'],
    ['谢谢你们', 'thanks'],
    ['感谢你们！', 'thanks'],
    ['thanks guys', 'thanks'],
    ['亲在吗', 'greeting'],
    ['哈喽哈喽', 'greeting'],
    ['Thank you so much!!', 'thanks'],
    ['好的谢谢', 'thanks'],
    ['ok', 'ack'],
    ['收到', 'ack'],
    ['好的，谢谢，再见', 'goodbye'],
    ['ok bye', 'goodbye'],
  ];
  for (const [text, kind] of cases) assert.deepEqual(m.match(text), { kind, rest: '' }, text);
});

test('questions are not small talk: word boundaries, and acknowledgements only count alone', () => {
  for (const text of [
    'hike prices',
    'hey123',
    'hi-fi speaker is broken',
    'Thank-you card not received',
    'hello kitty card',
    'ok so how do I pay',
    'okay what is the fee',
    '好评怎么写',
    '行李丢了',
    '收到的东西坏了',
    '可以退货吗',
    // A phrase that does not end where jieba ends a word is part of the question.
    '你好像发错货了',
    '感谢信怎么写',
    '我想问下单后能改地址吗',
    // Several words without punctuation after them: maybe a question (在不在保修期内), so kept.
    '在不在保修期内',
    '在吗我想退款',
  ]) {
    assert.deepEqual(m.match(text), { kind: undefined, rest: text }, text);
  }
});

test('a greeting or thanks before a question is taken off it', () => {
  assert.deepEqual(m.match('你好，我的快递到哪了'), { kind: 'greeting', rest: '我的快递到哪了' });
  assert.deepEqual(m.match('在吗？我想退款'), { kind: 'greeting', rest: '我想退款' });
  assert.deepEqual(m.match('你好我想退货'), { kind: 'greeting', rest: '我想退货' }, '你好 is a word of its own');
  assert.deepEqual(m.match('请问哈密瓜有货吗'), { kind: 'help', rest: '哈密瓜有货吗' }, '哈 here starts a word, it is no particle');
  assert.deepEqual(m.match('Hi, where is my order?'), { kind: 'greeting', rest: 'where is my order' });
  assert.deepEqual(m.match('thanks! and how much is shipping'), { kind: 'thanks', rest: 'and how much is shipping' });
  assert.deepEqual(m.match('请问，我想问一下，会员怎么退费'), { kind: 'help', rest: '会员怎么退费' });
  // English requests for help say what kind of question it is: they stay.
  assert.deepEqual(m.match('I have a problem with my card'), { kind: undefined, rest: 'I have a problem with my card' });
});

test('the phrase lists come from the bot config (each list replaces its default)', () => {
  const cfg = botConfigSchema.parse({ smallTalk: { greeting: ['yo', '哈喽哈喽'] } });
  const custom = new SmallTalkMatcher(cfg.smallTalk);
  assert.equal(custom.match('yo!').kind, 'greeting');
  assert.equal(custom.match('hi').kind, undefined, 'the default greetings are replaced');
  assert.equal(custom.match('thanks').kind, 'thanks', 'the other lists keep their defaults');
});

test('example questions that are small talk are reported: the bot never matches them', () => {
  const entries = parseKnowledgeFile(
    'kb/greet.yaml',
    'entries:\n  - id: welcome\n    questions: [hello, 你好, what can you do]\n    answer: I answer questions about orders.\n',
  );
  const warnings = smallTalkWarnings(entries, m);
  const [hello, nihao] = warnings;
  assert.equal(warnings.length, 2);
  assert.ok(hello !== undefined && nihao !== undefined);
  assert.match(hello, /^kb\/greet\.yaml:2: questions: "hello" is small talk: the bot answers it from the `greeting` template, never with "welcome"/);
  assert.match(nihao, /"你好" is small talk/);
});

test('the bot logs those warnings on load, whether the reload worker or this thread built the base', async () => {
  const copy = await tempCopy('shop');
  try {
    await writeFile(join(copy.dir, 'greet.yaml'), 'entries:\n  - id: welcome\n    questions: [你好, what can you do]\n    answer: I answer questions about your account.\n');
    for (const watch of [true, false]) {
      const warned: string[] = [];
      const log = pino({ level: 'warn' }, { write: (line: string) => void warned.push(String(JSON.parse(line).warning ?? '')) });
      const b = await KnowledgeBot.create({ dir: copy.dir, bot: botConfigSchema.parse({}), log, watch });
      await b.close();
      assert.ok(
        warned.some((w) => /greet\.yaml:2: questions: "你好" is small talk/.test(w)),
        `watch ${watch}: ${JSON.stringify(warned)}`,
      );
    }
  } finally {
    await copy.cleanup();
  }
});

let bot: KnowledgeBot;
let dir: { dir: string; cleanup: () => Promise<void> };
before(async () => {
  dir = await tempCopy('shop');
  await writeFile(join(dir.dir, '_templates.yaml'), 'greeting: { zh: 您好，这里是小店客服！, en: Hi! This is the shop. }\n');
  bot = await KnowledgeBot.create({ dir: dir.dir, bot: botConfigSchema.parse({}) });
});
after(async () => {
  await bot.close();
  await dir.cleanup();
});

test('the bot answers small talk from the templates, without a lookup, a hand-over or a strike', async () => {
  const cases: [string, RegExp][] = [
    ['你好', /^您好，这里是小店客服！$/],
    ['hi', /^Hi! This is the shop\.$/],
    ['谢谢', /不客气/],
    ['请问', /请直接描述您遇到的问题/],
    ['help', /What can I help you with/],
    ['thanks a lot', /You're welcome/],
    ['ok', /anything else/],
    ['再见', /再见/],
  ];
  for (const [text, reply] of cases) {
    const d = await bot.respond(turn(text));
    assert.equal(d.kind, 'answer', `${text} -> ${JSON.stringify(d)}`);
    assert.match(d.text, reply);
    assert.equal(d.entryIds, undefined, 'no knowledge entry');
    assert.ok(!d.unresolved, 'small talk is no strike');
  }
});

test('a greeting before a question does not lower its confidence', async () => {
  const plain = await bot.respond(turn('when will i get my refund'));
  const greeted = await bot.respond(turn('Hello! when will i get my refund'));
  assert.equal(plain.kind, 'answer');
  assert.deepEqual([greeted.kind, greeted.entryIds?.[0], greeted.confidence], [plain.kind, plain.entryIds?.[0], plain.confidence]);
  assert.deepEqual(
    bot.rank('你好，会员怎么退费').map((r) => r.id),
    bot.rank('会员怎么退费').map((r) => r.id),
  );
});
