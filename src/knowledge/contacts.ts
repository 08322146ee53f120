/**
 * Finds what a customer could follow in a text — links (with or without a scheme: `https://a.example/x`,
 * `evil.com/login`, `www.x.com`), e-mail addresses and phone numbers (international `+86 138 0013 8000`,
 * `+1 (555) 010-0199`, Chinese mobiles `13800138000`, `400-820-8820`, landlines `010-12345678`,
 * North American `555-010-0199`) — each with a key that compares them loosely: host lower-cased and
 * without a trailing slash or punctuation, e-mail lower-cased, phone by its digits (a country code
 * or trunk 0 in front does not matter).
 *
 * Links and e-mails are found by linkify-it. Chinese text often glues a link to the words around it
 * (`请访问evil.com重置`), which linkify-it reads as one word, so it runs on a copy where CJK
 * characters are blanked (same length, so positions hold). Hosts whose top-level domain linkify-it
 * does not know (`evil.example/login`) are found when a path or `www.` makes them links.
 */
import { LinkifyIt } from 'linkify-it';

export type ContactKind = 'url' | 'email' | 'phone';

export interface Contact {
  kind: ContactKind;
  /** [start, end) in the text. */
  start: number;
  end: number;
  raw: string;
  /** Normalized form for comparison. */
  key: string;
  /** For links: the lower-cased host, and whether the link is the bare host. */
  host?: string;
  bareHost?: boolean;
}

// Common generic TLDs beyond linkify-it's defaults (2-letter country codes, com, net, org, info, ...).
const EXTRA_TLDS = [
  'app', 'dev', 'xyz', 'top', 'site', 'online', 'store', 'tech', 'club', 'vip', 'link', 'live', 'cloud',
  'help', 'email', 'page', 'life', 'world', 'today', 'ltd', 'group', 'fun', 'icu', 'website', 'space',
  'news', 'blog', 'one', 'bank', 'pay', 'support', 'services', 'digital', 'network', 'global', 'company',
  'win', 'bid', 'loan', 'work', 'click', 'download', 'zip', 'mov', 'art', 'chat', 'games', 'run',
  'example', 'test', 'invalid', 'localhost', 'local',
];

const linkify = new LinkifyIt({ fuzzyLink: true, fuzzyEmail: true, fuzzyIP: true }).tlds(EXTRA_TLDS, true);

const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303f\uff00-\uffef]/gu;

/** Hosts with any top-level domain, when `www.` or a path/query makes them a link. */
const BARE_HOST_LINK =
  /(?<![\p{L}\p{N}@._%+-])(?:(?:www\.)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(?::\d{1,5})?(?:[/?#][^\s<>"'`]*)?|(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}(?::\d{1,5})?[/?#][^\s<>"'`]*)/giu;

const PHONE_PATTERNS: RegExp[] = [
  // International: +86 138 0013 8000, +1 (555) 010-0199, 0086-10-12345678.
  /(?<![\d+])(?:\+|00)[1-9]\d{0,2}(?:[ .-]?\(?\d{1,5}\)?){2,6}(?!\d)/g,
  // Chinese mobile (138 0013 8000, 138-0013-8000), 400/800 service numbers, landlines (010-12345678, (021) 1234 5678).
  /(?<!\d)1[3-9]\d(?:[ -]?\d{4}){2}(?!\d)/g,
  /(?<!\d)[48]00[ -]?\d{3}[ -]?\d{4}(?!\d)/g,
  /(?<!\d)(?:\(0[1-9]\d{1,2}\) ?|0[1-9]\d{1,2}[ -]?)\d{3,4}[ -]?\d{4}(?!\d)/g,
  // North American and short local numbers with separators: 1-800-555-0199, (555) 010-0199, 555-0100.
  /(?<!\d)(?:1[ .-])?(?:\(\d{3}\) ?|\d{3}[ .-])?\d{3}[.-]\d{4}(?!\d)/g,
  /(?<!\d)\(\d{3}\) ?\d{3}[ .-]\d{4}(?!\d)/g,
];

const TRAILING = /[.,;:!?'")\]}>]+$/;

function urlKey(href: string): { key: string; host: string; bareHost: boolean } | undefined {
  let u: URL;
  try {
    u = new URL(/^[a-z][a-z0-9+.-]*:/i.test(href) ? href : `http://${href}`);
  } catch {
    return undefined;
  }
  const host = u.host.toLowerCase();
  const path = u.pathname.replace(/\/+$/, '');
  const rest = `${path}${u.search}${u.hash}`.replace(TRAILING, '');
  return { key: `${host}${rest}`, host, bareHost: rest === '' };
}

function phoneDigits(raw: string): string {
  return raw.replace(/\D/g, '').replace(/^00/, '');
}

function links(text: string): Contact[] {
  const blanked = text.replace(CJK, (c) => ' '.repeat(c.length));
  const out: Contact[] = [];
  for (const m of linkify.match(blanked) ?? []) {
    const raw = text.slice(m.index, m.lastIndex);
    if (m.schema === 'mailto:') {
      out.push({ kind: 'email', start: m.index, end: m.lastIndex, raw, key: raw.replace(/^mailto:/i, '').toLowerCase() });
      continue;
    }
    const k = urlKey(m.url);
    if (k) out.push({ kind: 'url', start: m.index, end: m.lastIndex, raw, ...k });
  }
  for (const m of blanked.matchAll(BARE_HOST_LINK)) {
    const raw = m[0].replace(TRAILING, '');
    const k = urlKey(raw);
    if (k) out.push({ kind: 'url', start: m.index, end: m.index + raw.length, raw, ...k });
  }
  return out;
}

function phones(text: string): Contact[] {
  const out: Contact[] = [];
  for (const re of PHONE_PATTERNS) {
    for (const m of text.matchAll(re)) {
      const digits = phoneDigits(m[0]);
      if (digits.length < 7 || digits.length > 15) continue;
      out.push({ kind: 'phone', start: m.index, end: m.index + m[0].length, raw: m[0], key: digits });
    }
  }
  return out;
}

/** Links, e-mail addresses and phone numbers in `text`, in order, none overlapping (the longest wins). */
export function findContacts(text: string): Contact[] {
  const found = [...links(text), ...phones(text)].sort((a, b) => a.start - b.start || b.end - a.end);
  const kept: Contact[] = [];
  for (const c of found) {
    if (kept.some((k) => c.start < k.end && k.start < c.end)) continue;
    kept.push(c);
  }
  return kept;
}

function samePhone(a: string, b: string): boolean {
  if (a === b) return true;
  const [short, long] = a.length <= b.length ? [a, b] : [b, a];
  const national = short.replace(/^0/, '');
  return national.length >= 7 && long.endsWith(national) && long.length - national.length <= 3;
}

/** True when `c` is one of `known` (the same link, address or number; a bare host of a known link). */
export function isKnownContact(c: Contact, known: Contact[]): boolean {
  return known.some((k) => {
    if (c.kind === 'phone' || k.kind === 'phone') return c.kind === k.kind && samePhone(c.key, k.key);
    if (c.kind !== k.kind) return false;
    if (c.key === k.key) return true;
    return c.kind === 'url' && c.bareHost === true && c.host === k.host;
  });
}
