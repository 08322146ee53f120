/**
 * Charset repair, before mailparser reads a mail (parse.ts). mailparser decodes through libmime and
 * iconv-lite and gets honest labels right: UTF-8, Big5, ISO-2022-JP (encoding-japanese), ISO-8859-1
 * (read as windows-1252), and RFC 2047 encoded words in the same charsets. What real mail needs on
 * top, and what this file adds:
 * - `gb2312`/`gbk` labels on GB18030 bytes (Chinese clients label GB18030 text `gb2312`): libmime
 *   decodes them as GBK, which turns four-byte characters (𠀀 U+20000, but also ß and €) into U+FFFD.
 *   They are relabelled `gb18030`, the superset: GBK text decodes the same.
 * - no label, a `utf-8`/`us-ascii` label on bytes that are not UTF-8, a label nobody knows: mailparser
 *   reads UTF-8 and writes U+FFFD. The bytes are sniffed (`sniffCharset`) and labelled with what fits,
 *   with a warning (an HTML part's `<meta charset>` is believed before sniffing).
 * - raw 8-bit header fields that are not UTF-8 (GBK subjects and file names of older Chinese
 *   clients): mailparser reads header bytes as UTF-8, so they are re-encoded as UTF-8 here.
 * - RFC 2047 encoded words get the same label rules.
 * Decoding stays with mailparser: this file only rewrites header fields, so what it hands over is the
 * same MIME tree with honest labels. On the way it reports structure problems mailparser passes over in
 * silence (no header block, a multipart without a boundary, one cut off before its closing boundary).
 */
import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';

export type Sniffed = 'utf-8' | 'gb18030' | 'windows-1252';

/** Strict UTF-8; else GB18030 when the bytes read cleanly as such; else windows-1252 (Latin-1), which reads anything. */
export function sniffCharset(bytes: Buffer): Sniffed {
  if (isUtf8(bytes)) return 'utf-8';
  return cleanGb18030(bytes) ? 'gb18030' : 'windows-1252';
}

/**
 * Clean: no U+FFFD, no private-use character (GBK's user-defined rows), the same bytes when encoded
 * back, and not Latin-1 in disguise. "für" (66 FC 72) is a valid GB18030 character pair because an
 * accented letter followed by an ASCII letter forms one; Chinese text has mostly pairs of bytes above
 * 0x7F, so a text where most pairs end in an ASCII byte is not taken for GB18030.
 */
function cleanGb18030(bytes: Buffer): boolean {
  const text = iconv.decode(bytes, 'gb18030');
  if (/[\uFFFD\uE000-\uF8FF]/.test(text) || !iconv.encode(text, 'gb18030').equals(bytes)) return false;
  let pairs = 0;
  let asciiEnded = 0;
  for (let i = 0; i < bytes.length; i++) {
    if ((bytes[i] ?? 0) < 0x80) continue;
    const next = bytes[i + 1] ?? 0;
    if (next >= 0x30 && next <= 0x39) {
      i += 3; // a four-byte character
      continue;
    }
    pairs++;
    if (next < 0x80) asciiEnded++;
    i++;
  }
  return asciiEnded * 2 <= pairs;
}

type LabelKind = 'utf-8' | 'gbk' | 'known' | 'unknown';

// libmime reads these as GBK although iconv-lite would not name them so (`chinese` is gb18030 there).
const LIBMIME_GBK = new Set(['chinese', 'gb_2312', 'csiso58gb231280', 'x-euc-cn']);
// Decoded by libmime with encoding-japanese, which iconv-lite does not know.
const JAPANESE = /^jis|^iso-?2022-?jp|^eucjp/i;

function labelKind(label: string): LabelKind {
  const l = label.trim().toLowerCase();
  // mailparser reads these as UTF-8 without a decoder (the same compact comparison).
  if (['ascii', 'usascii', 'utf8'].includes(l.replace(/[^a-z0-9]+/g, ''))) return 'utf-8';
  if (LIBMIME_GBK.has(l)) return 'gbk';
  if (JAPANESE.test(l)) return 'known';
  try {
    return ['gbk', 'cp936'].includes(iconv.getCodec(l).encodingName) ? 'gbk' : 'known';
  } catch {
    return 'unknown';
  }
}

/**
 * The label to use instead of `label` (undefined: none given) for these bytes, and why (a warning),
 * or undefined when the label is right. `where` names the header or part in the warning; `hint` is a
 * label the content itself declares (an HTML part's `<meta charset>`), believed when the bytes are not UTF-8.
 */
function relabel(label: string | undefined, bytes: () => Buffer, where: string, hint?: () => string | undefined): { label: string; warning?: string } | undefined {
  const kind = label === undefined ? undefined : labelKind(label);
  if (kind === 'gbk') return { label: 'gb18030' };
  if (kind === 'known') return undefined;
  const b = bytes();
  // No label, or UTF-8 claimed: only bytes that are not UTF-8 need another.
  if (kind !== 'unknown' && isUtf8(b)) return undefined;
  const said = label === undefined ? 'no charset' : kind === 'unknown' ? `unknown charset "${label}"` : `labelled "${label}" but not UTF-8`;
  const declared = hint?.();
  if (declared) {
    const use = labelKind(declared) === 'gbk' ? 'gb18030' : declared;
    return { label: use, warning: `${where}: ${said}, decoded as ${use} (its <meta charset>)` };
  }
  const sniffed = sniffCharset(b);
  return { label: sniffed, warning: `${where}: ${said}, decoded as ${sniffed}` };
}

interface Field {
  /** Lower-cased. */
  name: string;
  start: number;
  /** End of the field's last line, before its line break. */
  end: number;
}

interface HeaderBlock {
  fields: Field[];
  /** Where the empty line is (a new field goes here). */
  end: number;
  bodyStart: number;
  /** An empty line ends the block (else the headers run to the end of the entity). */
  complete: boolean;
  eol: string;
}

/** The header fields of the entity at `start` (`s` holds the mail's bytes one char each: latin1). */
function readHeaderBlock(s: string, start: number, end: number): HeaderBlock {
  const fields: Field[] = [];
  const firstNl = s.indexOf('\n', start);
  const eol = firstNl > start && s[firstNl - 1] === '\r' ? '\r\n' : '\n';
  let pos = start;
  while (pos < end) {
    const nl = s.indexOf('\n', pos);
    const next = nl === -1 || nl >= end ? end : nl + 1;
    const lineEnd = next === end && (nl === -1 || nl >= end) ? end : s[nl - 1] === '\r' ? nl - 1 : nl;
    if (lineEnd === pos) return { fields, end: pos, bodyStart: next, complete: true, eol };
    const last = fields[fields.length - 1];
    if ((s[pos] === ' ' || s[pos] === '\t') && last) last.end = lineEnd;
    else {
      const colon = s.indexOf(':', pos);
      fields.push({ name: colon !== -1 && colon < lineEnd ? s.slice(pos, colon).trim().toLowerCase() : '', start: pos, end: lineEnd });
    }
    pos = next;
  }
  return { fields, end, bodyStart: end, complete: false, eol };
}

function unfoldedValue(s: string, f: Field): string {
  const raw = s.slice(f.start, f.end);
  return raw.slice(raw.indexOf(':') + 1).replace(/\r?\n(?=[ \t])/g, '').trim();
}

interface ContentType {
  type: string;
  params: Map<string, string>;
}

function parseStructured(value: string): ContentType {
  const params = new Map<string, string>();
  for (const m of value.matchAll(/;\s*([\w.*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g)) {
    params.set((m[1] ?? '').toLowerCase(), m[2] ?? m[3] ?? '');
  }
  return { type: (value.split(';')[0] ?? '').trim().toLowerCase(), params };
}

function qpDecode(body: string): Buffer {
  const bytes = body.replace(/=\r?\n/g, '').replace(/=([0-9a-f]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
  return Buffer.from(bytes, 'latin1');
}

function transferDecoded(body: string, encoding: string): Buffer {
  if (encoding === 'base64') return Buffer.from(body, 'base64');
  if (encoding === 'quoted-printable') return qpDecode(body);
  return Buffer.from(body, 'latin1');
}

const ENCODED_WORD = /=\?([\w.:+-]+)(\*[\w-]*)?\?([bq])\?([^?\s]*)\?=/gi;

function wordBytes(encoding: string, text: string): Buffer {
  if (encoding.toLowerCase() === 'b') return Buffer.from(text, 'base64');
  return qpDecode(text.replace(/_/g, ' '));
}

/** Encoded words of one field relabelled; words that share a label are judged together (a character may span two). */
function relabelWords(value: string, where: string, warnings: string[]): string {
  const byLabel = new Map<string, Buffer[]>();
  for (const m of value.matchAll(ENCODED_WORD)) {
    const label = (m[1] ?? '').toLowerCase();
    byLabel.set(label, [...(byLabel.get(label) ?? []), wordBytes(m[3] ?? 'b', m[4] ?? '')]);
  }
  const to = new Map<string, string>();
  for (const [label, parts] of byLabel) {
    const r = relabel(label, () => Buffer.concat(parts), where);
    if (!r) continue;
    to.set(label, r.label);
    if (r.warning) warnings.push(r.warning);
  }
  if (to.size === 0) return value;
  return value.replace(ENCODED_WORD, (word, label: string, lang: string | undefined, enc: string, text: string) => {
    const l = to.get(label.toLowerCase());
    return l ? `=?${l}${lang ?? ''}?${enc}?${text}?=` : word;
  });
}

/** The field with `param` set to `value` (replaced, or added at the end). */
function withParam(field: string, param: string, value: string): string {
  const re = new RegExp(`(;\\s*${param}\\s*=\\s*)(?:"(?:[^"\\\\]|\\\\.)*"|[^;\\s]*)`, 'i');
  return re.test(field) ? field.replace(re, `$1"${value}"`) : `${field.replace(/[\s;]+$/, '')}; ${param}="${value}"`;
}

interface Edit {
  start: number;
  end: number;
  text: Buffer;
}

export interface Repair {
  source: Buffer;
  warnings: string[];
}

/** Parts looked at, at most (mailparser's own limit). */
const MAX_PARTS = 1000;

/** The mail with honest charset labels and UTF-8 header bytes (see the top of this file). */
export function repairCharsets(source: Buffer): Repair {
  const warnings: string[] = [];
  const edits: Edit[] = [];
  const s = source.toString('latin1');
  if (s.trim() === '') return { source, warnings: ['empty mail'] };
  // A mail starts with a header field; anything else is read as a body without headers.
  const headerless = !/^[\x21-\x39\x3b-\x7e]+[ \t]*:/.test(s);
  if (headerless) warnings.push('no header block: the mail is read as a body without headers');
  const queue: { start: number; end: number }[] = [{ start: 0, end: s.length }];
  for (let n = 0; n < MAX_PARTS && queue.length > 0; n++) {
    const entity = queue.shift() as { start: number; end: number };
    const block: HeaderBlock = n === 0 && headerless ? { fields: [], end: 0, bodyStart: 0, complete: true, eol: s.includes('\r\n') ? '\r\n' : '\n' } : readHeaderBlock(s, entity.start, entity.end);
    if (n === 0 && !block.complete) warnings.push('no empty line after the headers: the mail has no body');
    const field = (name: string): Field | undefined => block.fields.find((f) => f.name === name);
    const value = (name: string): string => {
      const f = field(name);
      return f ? unfoldedValue(s, f) : '';
    };
    const ctField = field('content-type');
    const ct = parseStructured(value('content-type'));
    const type = ct.type || 'text/plain';
    const encoding = value('content-transfer-encoding').toLowerCase();
    const changes = new Map<Field, (text: string) => string>();
    let newField: string | undefined;

    if (type.startsWith('multipart/')) {
      let boundary = ct.params.get('boundary');
      if (!boundary) {
        // The first delimiter-like line (RFC 2046 boundary characters).
        const guess = /^--([0-9A-Za-z'()+_,./:=?-]{1,70}?)(?:--)?[ \t]*\r?$/m.exec(s.slice(block.bodyStart, Math.min(entity.end, block.bodyStart + 65536)))?.[1];
        if (guess && ctField) changes.set(ctField, (t) => withParam(t, 'boundary', guess));
        warnings.push(guess ? `${type} without a boundary: "${guess}", found in the body, is used` : `${type} without a boundary: its parts cannot be read`);
        boundary = guess;
      }
      if (boundary) {
        const split = splitMultipart(s, block.bodyStart, entity.end, boundary);
        if (!split.closed) warnings.push(`${type} ends without its closing boundary (cut off?)`);
        queue.unshift(...split.parts.map(([start, end]) => ({ start, end }))); // depth first, in document order
      }
    } else if (type === 'message/rfc822' && !['base64', 'quoted-printable'].includes(encoding)) {
      queue.unshift({ start: block.bodyStart, end: entity.end });
    } else if ((type === 'text/plain' || type === 'text/html') && parseStructured(value('content-disposition')).type !== 'attachment') {
      // The text parts mailparser decodes (attachments keep their bytes).
      const label = ct.params.get('charset') || undefined;
      let decoded: Buffer | undefined;
      const body = (): Buffer => (decoded ??= transferDecoded(s.slice(block.bodyStart, entity.end), encoding));
      const r = relabel(label, body, `${type} part`, type === 'text/html' ? () => metaCharset(body()) : undefined);
      if (r) {
        if (r.warning) warnings.push(r.warning);
        if (ctField) changes.set(ctField, (t) => withParam(t, 'charset', r.label));
        else newField = `Content-Type: text/plain; charset="${r.label}"${block.eol}`;
      }
    }

    for (const f of block.fields) {
      const raw = s.slice(f.start, f.end);
      let text = raw;
      if (/[\x80-\xff]/.test(raw)) {
        const bytes = Buffer.from(raw, 'latin1');
        const cs = sniffCharset(bytes);
        if (cs !== 'utf-8') warnings.push(`${headerName(raw)} header: raw 8-bit bytes that are not UTF-8, decoded as ${cs}`);
        text = iconv.decode(bytes, cs);
      }
      if (text.includes('=?')) text = relabelWords(text, `${headerName(raw)} header`, warnings);
      text = changes.get(f)?.(text) ?? text;
      const out = Buffer.from(text, 'utf8');
      if (!out.equals(source.subarray(f.start, f.end))) edits.push({ start: f.start, end: f.end, text: out });
    }
    if (newField) edits.push({ start: block.end, end: block.end, text: Buffer.from(newField, 'latin1') });
    // After the new field: the empty line that ends the (empty) header block.
    if (n === 0 && headerless) edits.push({ start: 0, end: 0, text: Buffer.from(block.eol) });
  }
  if (queue.length > 0) warnings.push(`more than ${MAX_PARTS} parts: the rest is not checked`);
  return { source: applyEdits(source, edits), warnings };
}

function headerName(field: string): string {
  return field.slice(0, Math.max(field.indexOf(':'), 0)).trim() || '(unnamed)';
}

/** `<meta charset="…">` or `<meta http-equiv="Content-Type" content="…; charset=…">` near the top of an HTML part. */
function metaCharset(html: Buffer): string | undefined {
  const label = /<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)/i.exec(html.subarray(0, 4096).toString('latin1'))?.[1];
  return label && labelKind(label) !== 'unknown' && labelKind(label) !== 'utf-8' ? label.toLowerCase() : undefined;
}

/** The parts between the delimiter lines of `boundary` (RFC 2046 5.1.1: the line break before a delimiter belongs to it). */
function splitMultipart(s: string, start: number, end: number, boundary: string): { parts: [number, number][]; closed: boolean } {
  const delimiter = `--${boundary}`;
  const found: { at: number; next: number }[] = [];
  let closed: number | undefined;
  for (let at = s.indexOf(delimiter, start); at !== -1 && at < end; at = s.indexOf(delimiter, at + delimiter.length)) {
    if (at !== start && s[at - 1] !== '\n') continue;
    const after = at + delimiter.length;
    if (s.startsWith('--', after)) {
      closed = at;
      break;
    }
    const nl = s.indexOf('\n', after);
    const lineEnd = nl === -1 || nl >= end ? end : nl;
    if (/^[ \t]*\r?$/.test(s.slice(after, lineEnd))) found.push({ at, next: Math.min(lineEnd + 1, end) });
  }
  const parts: [number, number][] = found.map((d, i) => {
    let stop = found[i + 1]?.at ?? closed ?? end;
    if (stop !== end) {
      if (s[stop - 1] === '\n') stop--;
      if (s[stop - 1] === '\r') stop--;
    }
    return [d.next, Math.max(d.next, stop)];
  });
  return { parts, closed: closed !== undefined };
}

function applyEdits(source: Buffer, edits: Edit[]): Buffer {
  if (edits.length === 0) return source;
  const sorted = [...edits].sort((a, b) => a.start - b.start);
  const chunks: Buffer[] = [];
  let pos = 0;
  for (const e of sorted) {
    chunks.push(source.subarray(pos, e.start), e.text);
    pos = e.end;
  }
  chunks.push(source.subarray(pos));
  return Buffer.concat(chunks);
}
