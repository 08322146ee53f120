/**
 * What the customer wrote now: a mail's text without the quoted history and the signature (parse.ts
 * keeps the whole text beside it, for agents). Deliberately simple: the text is cut at the first line
 * that starts quoted history or a signature, and `>` lines are dropped, so a customer who answered
 * between quoted lines keeps their answers. When nothing would be left, the whole text is kept.
 */

/** Attribution lines of a quote: one line, or two when the client wrapped it (`wrote:` on the second). */
const ATTRIBUTION = [
  /^\s*On\b.+\bwrote:\s*$/i, // Gmail, Apple Mail, Thunderbird: "On Mon, 1 Jan 2024 at 10:00, Ann <a@x> wrote:"
  /^\s*在.+写道[:：]\s*$/, // Gmail, Foxmail (zh): "在 2024年1月1日 周一 10:00，Ann <a@x> 写道："
  /^.*于.+写道[:：]\s*$/, // Gmail (zh): "Ann <a@x> 于2024年1月1日周一 10:00写道："
  /^.*<[^<>\s]+@[^<>\s]+>\s*写道[:：]\s*$/, // Apple Mail (zh): "2024年1月1日 10:00，Ann <a@x> 写道："
];

/** A line that by itself starts the quoted original: Outlook, Outlook Express, QQ Mail, Foxmail. */
const ORIGINAL_MESSAGE = /^\s*-{2,}\s*(?:Original Message|原始邮件|原始郵件)\s*-{2,}\s*$/i;
/** The header block of a quoted original (Outlook, QQ Mail): "From:" / "发件人:" … */
const QUOTED_FROM = /^\s*\*?(?:From|发件人|寄件者)\*?\s*[:：]/i;
/** … followed within a few lines by "Sent:" / "Date:" / "发送时间:" (Outlook draws its separator as a border, lost in text). */
const QUOTED_DATE = /^\s*\*?(?:Sent|Date|发送时间|时间|日期|寄件日期)\*?\s*[:：]/i;
/** Outlook's separator line before a "From:" block. */
const SEPARATOR = /^\s*(?:_{10,}|-{10,})\s*$/;
/** The signature delimiter ("-- ", RFC 3676 4.3; some clients drop its space). */
const SIGNATURE = /^-- ?$/;
/** Trailers of mobile clients. */
const TRAILER = /^\s*(?:Sent from my\s.+|Sent from (?:Mail|Outlook|Yahoo Mail)\b.*|Get Outlook for\s.+|发自我的.+|来自我的.+|从我的.+发送)\s*$/i;

/** Line endings, control characters (NUL and friends from broken mail, stray byte order marks) and surrounding blank lines tidied. */
function tidy(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f\ufeff]/g, '')
    .replace(/[ \t\u00a0]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Where the quoted history or the signature starts (a line index), or -1. */
function cutLine(lines: readonly string[]): number {
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const next = lines[i + 1];
    if (ATTRIBUTION.some((re) => re.test(line))) return i;
    if (next !== undefined && ATTRIBUTION.some((re) => re.test(`${line} ${next}`)) && !ATTRIBUTION.some((re) => re.test(next))) {
      // Only a wrapped attribution: its first line must start like one.
      if (/^\s*On\b|^\s*在|于|</.test(line)) return i;
    }
    if (ORIGINAL_MESSAGE.test(line) || SIGNATURE.test(line) || TRAILER.test(line)) return i;
    if (SEPARATOR.test(line) && lines.slice(i + 1, i + 3).some((l) => QUOTED_FROM.test(l))) return i;
    if (QUOTED_FROM.test(line) && lines.slice(i + 1, i + 4).some((l) => QUOTED_DATE.test(l))) return i;
  }
  return -1;
}

/** The whole text (tidied) and what the customer wrote now. */
export function splitReply(raw: string): { text: string; fullText: string } {
  const lines = raw.replace(/\r\n?/g, '\n').split('\n');
  const cut = cutLine(lines);
  const kept = (cut === -1 ? lines : lines.slice(0, cut)).filter((l) => !/^\s*>/.test(l));
  const fullText = tidy(raw);
  const text = tidy(kept.join('\n'));
  return { text: text === '' ? fullText : text, fullText };
}
