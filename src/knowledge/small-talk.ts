/**
 * Small talk: "你好" / "在吗" / "hi", "请问" / "I have a question", "谢谢" / "thanks", "好的" / "ok",
 * "再见" / "bye". A message made only of such phrases gets a short reply from the templates instead
 * of a knowledge lookup (which would find nothing and hand a greeting over to an agent). A message
 * that starts with them and goes on ("你好，我的快递到哪了") is looked up without them, so the
 * greeting does not lower the question's word coverage.
 *
 * Matching (text and phrases NFKC-normalized and lower-cased): phrases are taken off the start of
 * the message, longest first, as long as one matches. A Latin phrase must end at a word boundary
 * ("hi" is not the start of "hike" or "hi-fi"), a Chinese one where jieba ends a word (你好 is not
 * the start of 你好像, 好 not of 好评). Modal particles after a Chinese phrase (你好呀, 谢谢啦) and
 * words like 你们 / guys after one (谢谢你们, thanks guys) do not make it a question. Only
 * greetings, thanks and Chinese requests for help (请问) are taken off a message that goes on, and
 * only where they clearly end: at punctuation ("hi, where is my order"), or as a Chinese word of
 * their own ("你好我想退货", "请问怎么退货"). "收到的东西坏了", "hello kitty card" and "ok so how
 * do I pay" are questions; "收到" and "ok" alone are not.
 */
import type { KnowledgeEntry } from './schema.js';
import { MAX_FEATURE_CHARS, cutCjk, hasCjk } from './tokenize.js';

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
    '谢谢', '谢谢你', '谢谢您', '谢谢你们', '谢谢大家', '多谢', '谢了', '感谢', '非常感谢', '辛苦了',
    'thanks', 'thank you', 'thank you so much', 'thanks a lot', 'many thanks', 'thx', 'ty', 'cheers', 'much appreciated',
    'appreciate it',
  ],
  ack: ['好的', '好', '嗯', '嗯嗯', '哦', '知道了', '明白了', '明白', '收到', '了解', '行', '可以', 'ok', 'okay', 'k', 'got it', 'i see', 'alright', 'all right', 'great', 'cool', 'perfect'],
  goodbye: ['再见', '拜拜', '拜', '没事了', '没有了', '没别的了', '不用了', 'bye', 'goodbye', 'bye bye', 'see you', 'no thanks', "that's all", 'thats all', 'nothing else'],
};

/** Modal particles that may follow a Chinese phrase (dropped only where the phrase ends a clause). */
const PARTICLES = /^[呀啊哈呢啦哦喔嘛吧哟噢]+/u;

/** Words that may follow a phrase without making it a question: 谢谢你们, thanks guys. */
const FILLERS = ['你们', '大家', '各位', '你', '您', '亲', '啦', 'guys', 'everyone', 'all', 'you', 'so much', 'very much', 'again'];

/** Punctuation, symbols and emoji in the prepared text (a clause boundary). */
const PUNCT = '|';

export interface SmallTalk {
  /** The kind of the last small-talk phrase at the start of the message (undefined: none). */
  kind: SmallTalkKind | undefined;
  /** What follows the small talk ('' when the message is only small talk); the text itself when there is none. */
  rest: string;
}

/** Lower-cased NFKC text; punctuation, symbols and emoji become `|`, whitespace one space. */
function prepare(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[’‘]/g, "'")
    .replace(/[^\p{L}\p{N}'\-\s]+/gu, PUNCT)
    .replace(/\s+/g, ' ')
    .replace(/ ?\| ?/g, PUNCT)
    .replace(/\|+/g, PUNCT)
    .replace(/^[ |]+|[ |]+$/g, '');
}

const CJK_START = /^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+/u;

interface Phrase {
  text: string;
  kind: SmallTalkKind | undefined;
  cjk: boolean;
}

interface Step {
  kind: SmallTalkKind | undefined;
  rest: string;
  /** A clause boundary (punctuation) or the end follows the phrase. */
  closed: boolean;
  /** A Chinese phrase that is one jieba word (你好, 请问), not several (在/吗). */
  oneWord: boolean;
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
  private readonly fillers: Phrase[];

  constructor(lists: SmallTalkPhrases = defaultSmallTalk) {
    const phrase = (text: string, kind: SmallTalkKind | undefined): Phrase => ({ text: prepare(text), kind, cjk: hasCjk(text) });
    const byLength = (a: Phrase, b: Phrase): number => b.text.length - a.text.length;
    this.phrases = (Object.entries(lists) as [SmallTalkKind, readonly string[]][])
      .flatMap(([kind, list]) => list.map((p) => phrase(p, kind)))
      .filter((p) => p.text.length > 0 && !p.text.includes(PUNCT))
      .sort(byLength);
    this.fillers = FILLERS.map((f) => phrase(f, undefined)).sort(byLength);
  }

  match(text: string): SmallTalk {
    // The engine reads no further than MAX_FEATURE_CHARS either (a 10k-character message costs the same as 600).
    const prepared = prepare(text.length > MAX_FEATURE_CHARS ? text.slice(0, MAX_FEATURE_CHARS) : text);
    // Only small talk (and fillers): the whole message is it.
    let rest = prepared;
    let kind: SmallTalkKind | undefined;
    for (;;) {
      const step = this.step(rest, this.phrases, () => true) ?? (kind ? this.step(rest, this.fillers, () => true) : undefined);
      if (!step) break;
      kind = step.kind ?? kind;
      rest = step.rest;
    }
    if (kind && rest === '') return { kind, rest: '' };
    // A question after a greeting: take the greeting off where it clearly ends (punctuation, or a
    // Chinese phrase that is a word of its own: 你好我想退货, 请问怎么退货).
    rest = prepared;
    kind = undefined;
    for (;;) {
      const step = this.step(rest, this.phrases, opens);
      if (!step || !(step.closed || step.oneWord) || step.rest === '') break;
      kind = step.kind;
      rest = step.rest;
    }
    return kind ? { kind, rest: rest.replaceAll(PUNCT, ' ') } : { kind: undefined, rest: text };
  }

  /** The longest allowed phrase at the start of `text` that ends at a word boundary. */
  private step(text: string, phrases: readonly Phrase[], allowed: (p: Phrase) => boolean): Step | undefined {
    for (const p of phrases) {
      if (!allowed(p) || !text.startsWith(p.text)) continue;
      let after = text.slice(p.text.length);
      let oneWord = false;
      if (p.cjk) {
        // The phrase must end where jieba ends a word: 你好 is not the start of 你好像, 感谢 not of 感谢信.
        // (The first 32 characters decide where its first words end.)
        const run = (CJK_START.exec(text)?.[0] ?? '').slice(0, Math.max(32, p.text.length + 1));
        const words = cutCjk(run);
        let end = 0;
        for (const w of words) {
          end += w.length;
          if (end >= p.text.length) break;
        }
        if (end !== p.text.length && p.text.length < run.length) continue;
        oneWord = words[0] === p.text;
        const particles = PARTICLES.exec(after)?.[0];
        if (particles && (after.length === particles.length || /^[ |]/.test(after.slice(particles.length)))) after = after.slice(particles.length);
      } else if (/^[\p{L}\p{N}'-]/u.test(after)) {
        continue; // "hi" is not the start of "hike" or "hi-fi"
      }
      return { kind: p.kind, rest: after.replace(/^[ |]+/, ''), closed: after === '' || after.startsWith(PUNCT), oneWord };
    }
    return undefined;
  }
}

/** Example questions the bot never looks up because they are small talk ("hi" under a greeting entry). */
export function smallTalkWarnings(entries: readonly KnowledgeEntry[], matcher: SmallTalkMatcher): string[] {
  return entries.flatMap((e) =>
    e.examples
      .filter((q) => {
        const m = matcher.match(q);
        return m.kind !== undefined && m.rest === '';
      })
      .map((q) => `${e.source.file}:${e.source.line}: questions: "${q}" is small talk: the bot answers it from the \`${matcher.match(q).kind}\` template, never with "${e.id}" (bot.smallTalk in hub.yaml)`),
  );
}
