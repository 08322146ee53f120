/**
 * Lexicon-based sentiment for Chinese and English customer messages, in -1 (furious) .. 1 (happy).
 *
 * Scores are summed over lexicon hits (longest match first, so `不满意`, `没问题`, `doesn't work` are
 * one hit), then squashed with x / sqrt(x² + 15). Modifiers apply to the next hit within 3 tokens
 * (a CJK character or a Latin word is a token; punctuation ends the window): negations (不, 没, not,
 * n't...) flip and halve, intensifiers (非常, 太, very...) multiply by 1.5. After "but"/"但是" the
 * earlier hits count half and later ones 1.5x. Each `!` (up to 4) amplifies by 10%, a `??`-run by
 * 10%, and an ALL-CAPS lexicon word by 1.5x.
 *
 * One strong anger/profanity word (垃圾, 骗子, 投诉, 气死, 滚, scam, useless, ridiculous, furious,
 * worst, wtf...) alone scores <= -0.67, so it reaches {@link ANGER_THRESHOLD_DEFAULT}; a single
 * moderate word (差, 失望, hate, terrible) stays above it unless intensified (太差, "so terrible!!").
 */

/** Strong anger: a message with `sentimentScore(text) <= ANGER_THRESHOLD_DEFAULT` (-0.6). */
export const ANGER_THRESHOLD_DEFAULT = -0.6;

const ALPHA = 15;
const WINDOW = 3;
const NEGATION_FACTOR = -0.5;
const INTENSIFIER_FACTOR = 1.5;

/** Lexicon: phrase -> valence (-4..4). 0 masks a longer neutral compound (`操作`, `垃圾桶`, `你好`). */
const LEXICON = new Map<string, number>(Object.entries({
  // zh strong anger / profanity
  垃圾: -4, 骗子: -4, 骗人: -4, 诈骗: -4, 欺诈: -4, 投诉: -3.5, 气死: -4, 滚: -4, 滚蛋: -4, 他妈: -4, 妈的: -4,
  tmd: -4, 傻逼: -4, 操: -4, 去死: -4, 坑爹: -4, 坑人: -3.5, 黑心: -3.5, 无耻: -4, 恶心: -3.5,
  愤怒: -3.5, 生气: -2.8, 火大: -3.5, 烦死: -3.5, 离谱: -2.8, 什么玩意: -3.5, 破玩意: -3.5, 太坑: -3.5, 退钱: -2.8,
  // zh negative
  差: -2, 太差: -2.8, 烂: -2.8, 坑: -2.5, 失望: -2.5, 不满意: -2.5, 不满: -2.5, 无语: -2.5, 糟糕: -2.8, 敷衍: -2.5,
  慢: -1.5, 烦: -2, 不好: -2, 不行: -2, 没用: -2.5, 没有用: -2.5, 不能用: -2, 用不了: -2, 坏了: -2, 故障: -1,
  骗: -2.8, 不靠谱: -2.5, 难用: -2.5, 怎么还没: -2, 怎么还: -1.5, 着急: -1.5, 郁闷: -2, 后悔: -2.5, 好慢: -2.5, 好烦: -2.5, 好差: -2.8, 太慢: -2.5, 操心: -0.5,
  // zh positive
  谢谢: 2, 感谢: 2.5, 多谢: 2, 好的: 1, 好: 1.5, 不错: 2, 满意: 2.5, 太好了: 3, 棒: 2.5, 给力: 2.5, 完美: 3,
  喜欢: 2, 开心: 2.5, 高兴: 2.5, 赞: 2.5, 有用: 1.5, 有帮助: 2, 解决了: 2, 方便: 1.5, 没问题: 1.5, 靠谱: 2,
  辛苦了: 1.5, 专业: 1.5, 耐心: 1.5, 及时: 1.5,
  // zh neutral masks
  你好: 0, 您好: 0, 操作: 0, 垃圾桶: 0, 垃圾分类: 0, 垃圾邮件: 0, 垃圾箱: 0, 差不多: 0, 差价: 0, 差额: 0,
  好几: 0, 好多: 0, 好像: 0, 只好: 0, 最好: 0, 麻烦你: 0, 麻烦您: 0, 慢递: 0, 投诉电话: -1, 不好意思: 0, 滚动: 0,
  // en strong anger / profanity
  scam: -4, scammer: -4, scammers: -4, fraud: -4, useless: -3.5, ridiculous: -3.5, furious: -4, worst: -4,
  wtf: -4, fuck: -4, fucking: -4, shit: -4, bullshit: -4, idiot: -4, idiots: -4, liar: -4, liars: -4,
  pathetic: -3.5, disgusting: -3.5, unacceptable: -3.5, garbage: -3.5, 'rip off': -4, ripoff: -4, outrageous: -3.5,
  incompetent: -3.5, crap: -2.8, trash: -2.8, rubbish: -2.8, stupid: -2.8, cheated: -3.5, 'fed up': -2.8, angry: -2.8,
  hate: -2.8, terrible: -2.8, horrible: -2.8, awful: -2.8, sucks: -2.8, joke: -1.5,
  // en negative
  bad: -2, poor: -2, disappointed: -2.5, disappointing: -2.5, annoying: -2.5, annoyed: -2.5, frustrated: -2.5,
  frustrating: -2.5, upset: -2.5, slow: -1.5, wrong: -1.5, broken: -2, damn: -2.5, complaint: -2, complain: -2,
  'not working': -2, "doesn't work": -2, "does not work": -2, "isn't working": -2, "didn't work": -2, "still waiting": -2,
  late: -1, problem: -1, unhappy: -2.5,
  // en positive
  thanks: 2, thank: 2, thx: 1.5, great: 3, good: 2, excellent: 3, awesome: 3, perfect: 3, love: 3, helpful: 2.5,
  happy: 2.5, nice: 2, appreciate: 2.5, appreciated: 2.5, amazing: 3, wonderful: 3, fine: 1, ok: 0.5, okay: 0.5,
  solved: 2, resolved: 2, works: 1.5, fast: 1.5, satisfied: 2.5, cool: 1.5, 'no problem': 1.5, 'no worries': 1.5,
  // en neutral masks
  'good morning': 0, 'good afternoon': 0, 'good evening': 0, 'human resources': 0, 'bad request': -0.5,
}));

const NEGATORS = new Set([
  '不', '没', '没有', '别', '未', '无', '不是', '并不', '并没有', '从不', '从没',
  'not', 'no', 'never', 'none', 'nothing', 'nobody', 'neither', 'nor', 'cannot', 'without',
  'dont', 'doesnt', 'didnt', 'isnt', 'wasnt', 'arent', 'cant', 'wont', 'havent', 'hasnt',
]);
const INTENSIFIERS = new Set([
  '非常', '特别', '十分', '极其', '极', '太', '很', '超', '超级', '真', '真是', '真的', '最', '实在', '根本', '简直', '相当', '巨',
  'very', 'so', 'really', 'extremely', 'totally', 'absolutely', 'super', 'incredibly', 'completely', 'utterly', 'too', 'most', 'such',
]);
const CONTRASTS = new Set(['但是', '但', '可是', '不过', '然而', 'but', 'however']);

const MAX_CJK = 5;
const MAX_LATIN = 3;

interface Token {
  t: string;
  kind: 'cjk' | 'latin' | 'bang' | 'break';
  caps: boolean;
}

function tokenize(text: string): Token[] {
  const out: Token[] = [];
  const re = /([A-Za-z]+(?:'[A-Za-z]+)*)|([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff])|([!！])|([,.;:?，。；：？、\n])/g;
  for (const m of text.normalize('NFKC').replace(/[’`]/g, "'").matchAll(re)) {
    if (m[1] !== undefined) out.push({ t: m[1].toLowerCase(), kind: 'latin', caps: m[1].length >= 2 && m[1] === m[1].toUpperCase() });
    else if (m[2] !== undefined) out.push({ t: m[2], kind: 'cjk', caps: false });
    else if (m[3] !== undefined) out.push({ t: '!', kind: 'bang', caps: false });
    else out.push({ t: m[4] ?? '', kind: 'break', caps: false });
  }
  return out;
}

function phraseAt(tokens: Token[], i: number, n: number): string | undefined {
  const first = tokens[i];
  if (!first || (first.kind !== 'cjk' && first.kind !== 'latin')) return undefined;
  const parts: string[] = [];
  for (let k = i; k < i + n; k++) {
    const tok = tokens[k];
    if (!tok || tok.kind !== first.kind) return undefined;
    parts.push(tok.t);
  }
  return parts.join(first.kind === 'latin' ? ' ' : '');
}

function isNegator(word: string): boolean {
  return NEGATORS.has(word) || word.endsWith("n't");
}

export function sentimentScore(text: string): number {
  const tokens = tokenize(text);
  let sum = 0;
  let contrast = 1;
  let negate = false;
  let intensity = 1;
  let modifierAge = Infinity;
  let bangs = 0;
  let questionRuns = 0;
  const questionMarks = text.match(/[?？]{2,}/g);
  if (questionMarks) questionRuns = questionMarks.length;

  for (let i = 0; i < tokens.length; ) {
    const tok = tokens[i];
    if (tok === undefined) break;
    if (tok.kind === 'bang') {
      bangs++;
      i++;
      continue;
    }
    if (tok.kind === 'break') {
      negate = false;
      intensity = 1;
      modifierAge = Infinity;
      i++;
      continue;
    }
    const max = tok.kind === 'cjk' ? MAX_CJK : MAX_LATIN;
    let matched = false;
    for (let n = max; n >= 1; n--) {
      const phrase = phraseAt(tokens, i, n);
      if (phrase === undefined) continue;
      const value = LEXICON.get(phrase);
      if (value !== undefined) {
        let score = value;
        if (modifierAge <= WINDOW) {
          score *= intensity;
          if (negate) score *= NEGATION_FACTOR;
        }
        if (tokens.slice(i, i + n).some((t) => t.caps)) score *= INTENSIFIER_FACTOR;
        sum += score * contrast;
        negate = false;
        intensity = 1;
        modifierAge = Infinity;
        i += n;
        matched = true;
        break;
      }
      if (CONTRASTS.has(phrase)) {
        sum *= 0.5;
        contrast = 1.5;
        i += n;
        matched = true;
        break;
      }
      if (isNegator(phrase) || INTENSIFIERS.has(phrase)) {
        if (modifierAge > WINDOW) {
          negate = false;
          intensity = 1;
        }
        if (isNegator(phrase)) negate = !negate;
        else intensity *= INTENSIFIER_FACTOR;
        modifierAge = 0;
        i += n;
        matched = true;
        break;
      }
    }
    if (!matched) {
      i++;
      modifierAge++;
    }
  }
  if (sum === 0) return 0;
  sum *= 1 + 0.1 * Math.min(bangs, 4) + 0.1 * Math.min(questionRuns, 2);
  const score = sum / Math.sqrt(sum * sum + ALPHA);
  return Math.max(-1, Math.min(1, score));
}

/** Convenience: strong anger per {@link ANGER_THRESHOLD_DEFAULT} (or a configured threshold). */
export function isAngry(text: string, threshold: number = ANGER_THRESHOLD_DEFAULT): boolean {
  return sentimentScore(text) <= threshold;
}
