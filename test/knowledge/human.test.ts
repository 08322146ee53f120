import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_HUMAN_KEYWORDS, isHumanRequest } from '../../src/knowledge/human.js';

const yes = (t: string, kw: readonly string[] = DEFAULT_HUMAN_KEYWORDS): void => assert.equal(isHumanRequest(t, kw), true, `should match: ${t}`);
const no = (t: string, kw: readonly string[] = DEFAULT_HUMAN_KEYWORDS): void => assert.equal(isHumanRequest(t, kw), false, `should not match: ${t}`);

describe('DEFAULT_HUMAN_KEYWORDS', () => {
  it('covers the usual zh and en phrasings and is frozen', () => {
    for (const k of ['转人工', '人工客服', '人工服务', '找客服', '找人工', '真人', '人工', 'human', 'agent', 'real person', 'talk to a person', 'speak to someone', 'representative', 'operator', 'customer service'])
      assert.ok(DEFAULT_HUMAN_KEYWORDS.includes(k), k);
    assert.ok(Object.isFrozen(DEFAULT_HUMAN_KEYWORDS));
  });
});

describe('isHumanRequest (zh)', () => {
  it('matches requests for a person as substrings', () => {
    for (const t of ['转人工', '我要转人工！', '人工', '人工客服在吗', '帮我找人工', '能不能找客服处理一下', '你是真人吗', '有活人吗', '为什么不转人工', '不要机器人，要人工'])
      yes(t);
  });
  it('avoids non-request compounds and refusals', () => {
    for (const t of ['你们用的是人工智能吗', '人工费怎么算', '订单还在人工审核', '这个真人秀好看', '不用转人工了，谢谢', '不需要人工', '什么时候发货', ''])
      no(t);
  });
  it('still matches when another occurrence is a real request', () => {
    yes('别跟我说人工智能，我要人工');
  });
  it('normalizes full-width and case', () => {
    yes('ＨＵＭＡＮ');
    yes('Agent PLEASE');
  });
});

describe('isHumanRequest (en)', () => {
  it('matches short requests and request patterns', () => {
    for (const t of ['agent', 'agent please', 'Human!', 'human agent', 'are you human?', 'operator', 'representative please', 'I want to talk to a real person', 'let me speak to someone', 'Can I talk to a live agent about my bill?', 'Please connect me with an agent as soon as possible, this is urgent', 'why cant I talk to a human about this order', 'customer service'])
      yes(t);
  });
  it('is whole-word and skips ambiguous non-requests', () => {
    for (const t of [
      'reagent',
      'agents fee',
      'what is the agent fee for this order',
      'travel agent',
      'I booked through a travel agent and want a refund for the tickets',
      'this looks like a human error on your invoice',
      'who handles human resources questions at your company',
      'the humanity of it all',
      'my agent number is 42 and I cannot log in to the portal',
      'I am a human being who just wants my parcel delivered on time',
      "I don't need an agent, just tell me the opening hours",
      'what is your tour operator license number',
      'how long does shipping take',
    ])
      no(t);
  });
  it('uses the given keywords only', () => {
    no('转人工', ['supervisor']);
    yes('get me a supervisor now please', ['supervisor']);
    yes('I need the billing team', ['billing team']);
    no('human', []);
    no('human', ['', '  ']);
  });
});
