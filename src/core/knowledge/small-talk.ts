/**
 * Small talk: "你好" / "在吗" / "hi", "请问" / "I have a question", "谢谢" / "thanks", "好的" / "ok",
 * "再见" / "bye". A message made only of such phrases gets a short reply from the templates instead
 * of a knowledge lookup (which would find nothing and hand a greeting over to an agent). A message
 * that starts with them and goes on ("你好，我的快递到哪了") is looked up without them, so the
 * greeting does not lower the question's word coverage.
 *
 * Matching (text and phrases NFKC-normalized, lower-cased, punctuation and emoji as spaces): phrases
 * are taken off the start of the message, longest first, as long as one matches. A Latin phrase
 * or a one-character Chinese phrase must end at a word boundary ("hi" never matches "hike", 好 never
 * matches 好评); a Chinese phrase may be followed by modal particles (你好呀, 谢谢啦, 好的呢). Only
 * greetings, thanks and Chinese requests for help (请问) are taken off a message that goes on:
 * "收到的东西坏了" and "ok so how do I pay" are questions, "收到" and "ok" alone are not.
 */
import { hasCjk } from './tokenize.js';

export type SmallTalkKind = 'greeting' | 'help' | 'thanks' | 'ack' | 'goodbye';

export type SmallTalkPhrases = Record<SmallTalkKind, readonly string[]>;

export const defaultSmallTalk: SmallTalkPhrases = {
  greeting: [
    '你好', '您好', '你们好', '在吗', '在不在', '有人吗', '有人在吗', '哈喽', '嗨', '嗨嗨', '早上好', '中午好', '下午好', '晚上好', '亲',
    'hi', 'hii', 'hello', 'hello there', 'hi there', 'hey', 'hey there', 'hiya', 'good morning', 'good afternoon',
    'good evening', 'anyone there', 'is anyone there', 'are you there',
  ],
  /** A request for help that does not say with what yet ("I have a question", "请问"). */
  help: [
    '请问', '问一下', '问下', '咨询一下', '我想咨询一下', '我想咨询', '我想问一下', '我想问下', '帮帮我', '帮个忙', '我有个问题', '我有一个问题', '有个问题',
    'help', 'help me', 'help please', 'please help', 'please help me', 'can you help', 'can you help me', 'could you help me',
    'i need help', 'i need some help', 'i have a question', 'i have a problem', 'quick question', 'question',
  ],
  thanks: [
    '谢谢', '谢谢你', '谢谢您', '多谢', '谢了', '感谢', '非常感谢', '辛苦了',
    'thanks', 'thank you', 'thank you so much', 'thanks a lot', 'many thanks', 'thx', 'ty', 'cheers', 'much appreciated',
    'appreciate it',
  ],
  ack: ['好的', '好', '嗯', '嗯嗯', '哦', '知道了', '明白了', '明白', '收到', '了解', '行', '可以', 'ok', 'okay', 'k', 'got it', 'i see', 'alright', 'all right', 'great', 'cool', 'perfect'],
  goodbye: ['再见', '拜拜', '拜', '没事了', '没有了', '没别的了', '不用了', 'bye', 'goodbye', 'bye bye', 'see you', 'no thanks', "that's all", 'thats all', 'nothing else'],
};

/** Modal particles that may follow a Chinese phrase. */
const PARTICLES = /^[呀啊哈呢啦哦喔嘛吧哟噢~]+/u;

export interface SmallTalk {
  /** The kind of the last small-talk phrase at the start of the message (undefined: none). */
  kind: SmallTalkKind | undefined;
  /** What follows the small talk ('' when the message is only small talk). */
  rest: string;
}

/** Punctuation, symbols and emoji become spaces; letters, digits and CJK stay. */
function clean(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[’‘]/g, "'")
    .replace(/[^\p{L}\p{N}'\s]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

interface Phrase {
  text: string;
  kind: SmallTalkKind;
  cjk: boolean;
}

/**
 * Phrases taken off a message that then asks something: greetings, thanks, and the Chinese
 * requests for help (请问, 我想问一下: politeness, no content). English ones stay in the question:
 * "I have a problem with my card" says what kind of question it is.
 */
function opens(p: Phrase): boolean {
  return p.kind === 'greeting' || p.kind === 'thanks' || (p.kind === 'help' && p.cjk);
}

export class SmallTalkMatcher {
  private readonly phrases: Phrase[];

  constructor(lists: SmallTalkPhrases = defaultSmallTalk) {
    this.phrases = (Object.entries(lists) as [SmallTalkKind, readonly string[]][])
      .flatMap(([kind, list]) => list.map((p) => ({ text: clean(p), kind, cjk: hasCjk(p) })))
      .filter((p) => p.text.length > 0)
      .sort((a, b) => b.text.length - a.text.length);
  }

  match(text: string): SmallTalk {
    const cleaned = clean(text);
    const all = this.strip(cleaned, () => true);
    if (all.kind && all.rest === '') return all;
    const opened = this.strip(cleaned, opens);
    return opened.kind ? opened : { kind: undefined, rest: text };
  }

  private strip(text: string, allowed: (p: Phrase) => boolean): SmallTalk {
    let rest = text;
    let kind: SmallTalkKind | undefined;
    for (;;) {
      const next = this.next(rest, allowed);
      if (!next) break;
      kind = next.kind;
      rest = next.rest;
    }
    return { kind, rest };
  }

  /** The longest allowed phrase at the start of `text`, and what follows it. */
  private next(text: string, allowed: (p: Phrase) => boolean): { kind: SmallTalkKind; rest: string } | undefined {
    for (const p of this.phrases) {
      if (!allowed(p) || !text.startsWith(p.text)) continue;
      let rest = text.slice(p.text.length);
      if (p.cjk) rest = rest.replace(PARTICLES, '');
      const needsBoundary = !p.cjk || [...p.text].length === 1;
      if (needsBoundary && /^[\p{L}\p{N}]/u.test(rest)) continue;
      return { kind: p.kind, rest: rest.trimStart() };
    }
    return undefined;
  }
}
