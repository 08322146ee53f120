import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANGER_THRESHOLD_DEFAULT, isAngry, sentimentScore } from '../../src/knowledge/sentiment.js';

const angry = (t: string): void => assert.ok(sentimentScore(t) <= ANGER_THRESHOLD_DEFAULT, `${t}: ${sentimentScore(t)}`);
const notAngry = (t: string): void => assert.ok(sentimentScore(t) > ANGER_THRESHOLD_DEFAULT, `${t}: ${sentimentScore(t)}`);

describe('sentimentScore', () => {
  it('is 0 for neutral questions, empty text and neutral compounds', () => {
    for (const t of ['', '   ', '什么时候发货', 'How do I reset my password?', '操作步骤是什么', '垃圾分类怎么做', '你好', '滚动条不见了', 'Good morning'])
      assert.equal(sentimentScore(t), 0, t);
  });

  it('stays within -1..1', () => {
    for (const t of ['垃圾垃圾垃圾骗子骗子滚滚滚！！！！！', 'THANK YOU SO MUCH, PERFECT, AMAZING, GREAT!!!!!!', 'fuck '.repeat(200)]) {
      const s = sentimentScore(t);
      assert.ok(s >= -1 && s <= 1, `${t}: ${s}`);
    }
  });

  it('flags strong anger and profanity (zh + en) at or below the default threshold', () => {
    assert.equal(ANGER_THRESHOLD_DEFAULT, -0.6);
    for (const t of ['垃圾', '你们就是骗子', '我要投诉', '气死我了', '滚', '什么垃圾客服', 'This is a scam', 'useless', 'ridiculous', 'I am furious', 'worst service ever', 'wtf', '太差了！'])
      angry(t);
    assert.ok(isAngry('垃圾客服'));
    assert.ok(!isAngry('谢谢'));
    assert.ok(!isAngry('垃圾', -0.9), 'a stricter threshold');
  });

  it('scores positive messages above 0', () => {
    for (const t of ['谢谢', '非常感谢', '不错', '太好了', 'thanks', 'great, it works', 'perfect', '没问题']) assert.ok(sentimentScore(t) > 0, t);
  });

  it('mild complaints are negative but not angry', () => {
    for (const t of ['有点慢', 'the app is not working', '不满意', 'I am disappointed', 'I hate this']) {
      assert.ok(sentimentScore(t) < 0, t);
      notAngry(t);
    }
  });

  it('negations flip', () => {
    assert.ok(sentimentScore('好') > 0 && sentimentScore('不好') < 0);
    assert.ok(sentimentScore('good') > 0 && sentimentScore('not good') < 0);
    assert.ok(sentimentScore('bad') < 0 && sentimentScore('not bad') > 0);
    assert.ok(sentimentScore("it isn't good") < 0);
    assert.ok(sentimentScore('满意') > 0 && sentimentScore('不满意') < 0);
    assert.ok(sentimentScore('没有用') < 0 && sentimentScore('有用') > 0);
    // the negation window ends at punctuation
    assert.ok(sentimentScore('not sure. good') > 0);
  });

  it('intensifiers, exclamation marks and ALL CAPS amplify', () => {
    assert.ok(sentimentScore('非常差') < sentimentScore('差'));
    assert.ok(sentimentScore('太慢') < sentimentScore('慢'));
    assert.ok(sentimentScore('very bad') < sentimentScore('bad'));
    assert.ok(sentimentScore('very good') > sentimentScore('good'));
    assert.ok(sentimentScore('this is a scam!!!') < sentimentScore('this is a scam'));
    assert.ok(sentimentScore('垃圾！！！') < sentimentScore('垃圾'));
    assert.ok(sentimentScore('THIS IS TERRIBLE') < sentimentScore('this is terrible'));
    notAngry('this is terrible');
    angry('THIS IS TERRIBLE!!!');
  });

  it('weighs the clause after "but" more', () => {
    assert.ok(sentimentScore('thanks but this is useless') <= ANGER_THRESHOLD_DEFAULT);
    assert.ok(sentimentScore('有点慢，但是客服很好') > 0);
  });
});
