/**
 * Email threads as conversations. A thread's key is the Message-ID of its first mail (the root).
 * Our own Message-IDs carry the thread key (`<sb.<base64url key>.<outbound id>@<domain>>`), so a
 * reply whose client kept only In-Reply-To still finds its thread without a lookup; a client that
 * dropped every header still has the subject's `[#token]`, a short hash of the key that the adapter
 * maps back through the channel state (`thread:<token>`).
 */
import { createHash } from 'node:crypto';
import type { ParsedMail } from './types.js';

const OURS = /^<sb\.([A-Za-z0-9_-]*)\.[^@>]+@[^>]+>$/;

/** Our Message-ID for outbound row `outboundId` in thread `threadKey` (none: a proactive mail starting a thread). */
export function ourMessageId(threadKey: string | undefined, outboundId: string, domain: string): string {
  const key = threadKey ? Buffer.from(threadKey, 'utf8').toString('base64url') : '';
  const id = outboundId.replace(/[^A-Za-z0-9_-]/g, '-');
  return `<sb.${key}.${id}@${domain}>`;
}

/** The thread key inside one of our Message-IDs; undefined for anyone else's (or a proactive one of ours). */
export function threadKeyInOurId(messageId: string): string | undefined {
  const m = OURS.exec(messageId);
  if (!m?.[1]) return undefined;
  const key = Buffer.from(m[1], 'base64url').toString('utf8');
  return key.startsWith('<') && key.endsWith('>') ? key : undefined;
}

/** The subject token of a thread: 10 base-36 characters of the key's SHA-256. */
export function threadToken(threadKey: string): string {
  const n = BigInt(`0x${createHash('sha256').update(threadKey).digest('hex').slice(0, 16)}`);
  return n.toString(36).padStart(10, '0').slice(-10);
}

/** `Re: <subject> [#token]`, without stacking `Re:`/`回复:` prefixes or tokens. */
export function replySubject(subject: string, token: string): string {
  const bare = subject
    .replace(/\s*\[#[a-z0-9]{4,32}\]\s*/gi, ' ')
    .replace(/^\s*((re|aw|sv|fw|fwd|回复|答复|转发)\s*[:：]\s*)+/i, '')
    .trim();
  return `Re: ${bare || '(no subject)'} [#${token}]`;
}

/** A proactive mail's subject: its first line, at most 78 characters. */
export function firstLineSubject(text: string): string {
  const line = (text.split('\n').find((l) => l.trim() !== '') ?? '').trim();
  return line.length > 78 ? `${line.slice(0, 77)}…` : line || '(no subject)';
}

/**
 * Where a mail belongs, in order: the thread key inside one of our Message-IDs it answers; the root
 * of its References; its In-Reply-To; the thread of its subject token (`byToken`); else a new thread
 * rooted at the mail itself.
 */
export async function threadKeyOf(mail: Pick<ParsedMail, 'inReplyTo' | 'references' | 'caseToken'>, ownId: string, byToken: (token: string) => Promise<string | undefined>): Promise<string> {
  const answered = [mail.inReplyTo, ...[...mail.references].reverse()].filter((x): x is string => x !== undefined);
  for (const id of answered) {
    const key = threadKeyInOurId(id);
    if (key) return key;
  }
  const root = mail.references[0] ?? mail.inReplyTo;
  if (root && !OURS.test(root)) return root;
  if (mail.caseToken) {
    const key = await byToken(mail.caseToken);
    if (key) return key;
  }
  // A reply to a proactive mail of ours starts its thread at that mail.
  return root ?? ownId;
}
