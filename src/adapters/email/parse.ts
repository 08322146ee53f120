/**
 * A raw mail -> ParsedMail. Pure (no network): mailparser's `simpleParser` reads the MIME tree after
 * charset.ts has made the labels honest; this file picks what the channel needs and says why
 * anything is left out. Never throws: malformed mail yields what could be read, with warnings.
 */
import { simpleParser, type AddressObject, type EmailAddress, type HeaderLines, type ParsedMail as MailparserMail, type SimpleParserOptions } from 'mailparser';
import { errorMessage } from '../../core/errors.js';
import { repairCharsets } from './charset.js';
import { skipReason } from './loops.js';
import { splitReply } from './quote.js';
import type { MailAttachment, ParsedMail, ParseOptions } from './types.js';

const PARSER_OPTIONS: SimpleParserOptions = {
  // The HTML is not shown anywhere: no data: URLs for inline images, no HTML made of the text.
  skipImageLinks: true,
  skipTextToHtml: true,
  // Attachments are only listed: no checksum of a 25 MB file.
  checksumAlgo: false,
  // Larger HTML is not turned into text (html-to-text takes seconds): a warning says so.
  maxHtmlLengthToParse: 2_000_000,
};

/** A message id: `<local@host>`. */
const MESSAGE_ID = /<[^<>\s]+>/g;
const ADDRESS = /^[^@\s]+@[^@\s]+$/;
/** Our thread token in a subject: `[#k7q2m9xa]`. */
const CASE_TOKEN = /\[#([a-z0-9]{4,32})\]/gi;

export async function parseMail(source: Buffer, opts: ParseOptions): Promise<ParsedMail> {
  const repaired = repairCharsets(source);
  const warnings = [...repaired.warnings];
  let mail: MailparserMail;
  try {
    mail = await simpleParser(repaired.source, PARSER_OPTIONS);
  } catch (err) {
    // mailparser gives up on a header block over 1 MB or more than 1000 parts, for instance.
    warnings.push(`unreadable mail: ${errorMessage(err)}`);
    return { to: [], cc: [], deliveredTo: [], subject: '', text: '', fullText: '', references: [], attachments: [], skipReason: 'unreadable mail', warnings };
  }

  const from = addresses(mail.from)[0];
  if (!from) {
    const line = rawHeader(mail.headerLines, 'from');
    warnings.push(line === undefined ? 'no From header' : `no usable address in the From header ("${line.slice(0, 100)}")`);
  }
  const replyTo = addresses(mail.replyTo)[0]?.address;
  const subject = (mail.subject ?? '').replace(/\s+/g, ' ').trim();

  let body = mail.text ?? '';
  if (mail.textConversionError) warnings.push(`HTML not turned into text: ${mail.textConversionError.message}`);
  // mailparser turns HTML into text only when it is the whole mail; HTML with inline images
  // (multipart/related) or beside attachments only has no text otherwise.
  if (body.trim() === '' && typeof mail.html === 'string' && mail.html.trim() !== '') body = await htmlToText(mail.html, warnings);
  // html-to-text writes an image without alt text as its source: an inline image's "[cid:…]" says nothing.
  body = body.replace(/\[cid:[^\]\s]*\]/g, '');
  const { text, fullText } = splitReply(body);

  const dateHeader = rawHeader(mail.headerLines, 'date');
  const date = dateHeader === undefined ? undefined : Date.parse(dateHeader);
  if (date !== undefined && !Number.isFinite(date)) warnings.push(`unreadable Date header ("${dateHeader?.slice(0, 100)}")`);

  const messageId = ids(mail.messageId)[0];
  const inReplyTo = ids(mail.inReplyTo)[0];
  const caseToken = [...subject.matchAll(CASE_TOKEN)].pop()?.[1]?.toLowerCase();
  const attachments: MailAttachment[] = mail.attachments.map((a, i) => ({
    name: a.filename?.trim() || `attachment-${i + 1}`,
    mimeType: a.contentType,
    size: a.size,
    kept: a.size <= opts.maxAttachmentBytes,
  }));
  const reason = skipReason({ headers: mail.headers, from: from?.address, subject, ownAddresses: opts.ownAddresses });

  return {
    ...(messageId ? { messageId } : {}),
    ...(from ? { from: { address: from.address, ...(from.name ? { name: from.name } : {}) } } : {}),
    ...(replyTo && replyTo !== from?.address ? { replyTo } : {}),
    to: unique(addresses(mail.to).map((a) => a.address)),
    cc: unique(addresses(mail.cc).map((a) => a.address)),
    deliveredTo: deliveredTo(mail.headerLines),
    subject,
    ...(date !== undefined && Number.isFinite(date) ? { date } : {}),
    text,
    fullText,
    ...(inReplyTo ? { inReplyTo } : {}),
    references: ids(mail.references),
    ...(caseToken ? { caseToken } : {}),
    attachments,
    ...(reason ? { skipReason: reason } : {}),
    warnings,
  };
}

/** Mailboxes of an address header, groups flattened, addresses lower-cased; entries without a usable address left out. */
function addresses(header: AddressObject | AddressObject[] | undefined): { address: string; name: string }[] {
  const out: { address: string; name: string }[] = [];
  const walk = (list: readonly EmailAddress[]): void => {
    for (const a of list) {
      if (a.group) walk(a.group);
      else if (a.address && ADDRESS.test(a.address.trim())) out.push({ address: a.address.trim().toLowerCase(), name: a.name.trim() });
    }
  };
  for (const h of header === undefined ? [] : Array.isArray(header) ? header : [header]) walk(h.value);
  return out;
}

/** The addresses of every Delivered-To header (the envelope recipient the receiving server wrote; Bcc leaves no other trace), lower-cased. */
function deliveredTo(lines: HeaderLines): string[] {
  const out = lines
    .filter((l) => l.key === 'delivered-to')
    .map((l) => l.line.slice(l.line.indexOf(':') + 1).replace(/\r?\n[ \t]*/g, ' ').trim().replace(/^<(.*)>$/, '$1').toLowerCase())
    .filter((a) => ADDRESS.test(a));
  return unique(out);
}

/** Message ids in a header value, in order, each once. A bare `id@host` (no brackets) is bracketed. */
function ids(value: string | string[] | undefined): string[] {
  const all = (value === undefined ? [] : Array.isArray(value) ? value : [value]).flatMap((v) => {
    const found = v.match(MESSAGE_ID);
    if (found) return found;
    const bare = v.trim();
    return ADDRESS.test(bare) ? [`<${bare}>`] : [];
  });
  return unique(all);
}

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

/** The raw (unfolded) value of the first header `key`. */
function rawHeader(lines: HeaderLines, key: string): string | undefined {
  const line = lines.find((l) => l.key === key)?.line;
  return line === undefined ? undefined : line.slice(line.indexOf(':') + 1).replace(/\r?\n[ \t]*/g, ' ').trim();
}

/** HTML as readable text, by mailparser's own conversion (html-to-text), as if it were the whole mail. */
async function htmlToText(html: string, warnings: string[]): Promise<string> {
  try {
    const m = await simpleParser(Buffer.from(`Content-Type: text/html; charset=utf-8\r\n\r\n${html}`, 'utf8'), PARSER_OPTIONS);
    if (m.textConversionError) warnings.push(`HTML not turned into text: ${m.textConversionError.message}`);
    return m.text ?? '';
  } catch (err) {
    warnings.push(`HTML not turned into text: ${errorMessage(err)}`);
    return '';
  }
}
