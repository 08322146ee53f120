/**
 * Mail the bot must never answer (RFC 3834 and common practice): answering an auto-reply, a bounce
 * or a list starts mail loops and spams lists. Such mail is still handed to the hub, marked, so agents
 * see it (adapter.ts). The reason names what gave the mail away, for the log and for agents.
 */

export interface LoopSignals {
  /** The mail's top-level headers as mailparser gives them: lower-cased names, `List-*` folded into `list`. */
  headers: ReadonlyMap<string, unknown>;
  /** The sender's address, lower-cased; undefined: no usable From. */
  from: string | undefined;
  /** Decoded subject. */
  subject: string;
  /** Our own addresses, any case. */
  ownAddresses: readonly string[];
}

/** Senders that are machines by name (the local part, any domain; `+tag` ignored). */
const BOUNCE_SENDER = /^(?:mailer[-_.]?daemon|postmaster)$/i;
const NOREPLY_SENDER = /^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply)$/i;
/** Subjects of auto-replies from systems that set no header (or only Exchange's). */
const AUTO_SUBJECT = /^\s*(?:automatic reply|auto[-\s]?reply|out of (?:the )?office|自动回复)/i;
const REPORTS: Record<string, string> = {
  'delivery-status': 'bounce',
  'disposition-notification': 'read receipt',
  'feedback-report': 'feedback report',
};

/** Why this mail must not be answered, or undefined: answer it. */
export function skipReason(m: LoopSignals): string | undefined {
  if (!m.from) return 'no From (nobody to answer)';
  if (m.ownAddresses.some((a) => a.toLowerCase() === m.from)) return 'our own address';

  const ct = m.headers.get('content-type');
  if (isStructured(ct) && ct.value.toLowerCase() === 'multipart/report') {
    const type = (ct.params['report-type'] ?? '').toLowerCase();
    return `${REPORTS[type] ?? 'report'} (multipart/report${type ? `; report-type=${type}` : ''})`;
  }

  // RFC 3834 5.1: anything but "no" is automatic; the first token counts ("auto-replied; owner=…").
  const submitted = text(m.headers, 'auto-submitted');
  const token = submitted?.split(/[\s;(]/)[0]?.toLowerCase();
  if (submitted !== undefined && token !== 'no') {
    return `${token === 'auto-replied' ? 'auto-reply' : 'automatic mail'} (Auto-Submitted: ${submitted})`;
  }
  for (const [key, name] of [
    ['x-autoreply', 'X-Autoreply'],
    ['x-autorespond', 'X-Autorespond'],
    // Exchange and Outlook mark their out-of-office replies only this way.
    ['x-auto-response-suppress', 'X-Auto-Response-Suppress'],
    ['x-ms-exchange-inbox-rules-loop', 'X-MS-Exchange-Inbox-Rules-Loop'],
  ] as const) {
    const v = text(m.headers, key);
    if (v !== undefined) return `auto-reply (${name}${v ? `: ${v}` : ''})`;
  }

  const precedence = text(m.headers, 'precedence')?.toLowerCase();
  if (precedence === 'bulk' || precedence === 'junk' || precedence === 'list') {
    return `${precedence === 'list' ? 'mailing list' : 'bulk mail'} (Precedence: ${precedence})`;
  }
  const list = m.headers.get('list');
  const listed = (key: string): boolean => m.headers.has(`list-${key}`) || (typeof list === 'object' && list !== null && key in list);
  if (listed('id')) return 'mailing list (List-Id)';
  if (listed('unsubscribe')) return 'mailing list (List-Unsubscribe)';

  if (nullSender(m.headers.get('return-path'))) return 'empty envelope sender (Return-Path: <>)';
  const local = (m.from.split('@')[0] ?? '').replace(/\+.*$/, '');
  if (BOUNCE_SENDER.test(local)) return `bounce (From: ${m.from})`;
  if (NOREPLY_SENDER.test(local)) return `no-reply sender (From: ${m.from})`;
  if (AUTO_SUBJECT.test(m.subject)) return `auto-reply (Subject: ${m.subject.length > 60 ? `${m.subject.slice(0, 59)}…` : m.subject})`;
  return undefined;
}

function isStructured(v: unknown): v is { value: string; params: Record<string, string> } {
  return typeof v === 'object' && v !== null && typeof (v as { value?: unknown }).value === 'string' && typeof (v as { params?: unknown }).params === 'object';
}

/** A header's (first) value as text; undefined when absent. */
function text(headers: ReadonlyMap<string, unknown>, key: string): string | undefined {
  if (!headers.has(key)) return undefined;
  const v = headers.get(key);
  const first: unknown = Array.isArray(v) ? v[0] : v;
  if (typeof first === 'string') return first.trim();
  if (isStructured(first)) return first.value.trim();
  return first === undefined || first === null ? '' : String(first).trim();
}

/** `Return-Path: <>` (mailparser: one address, empty). */
function nullSender(v: unknown): boolean {
  const list: unknown[] = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return list.some((h) => {
    const value = (h as { value?: { address?: string; name?: string }[] } | null)?.value;
    return Array.isArray(value) && value.length > 0 && value.every((a) => !a.address && !a.name);
  });
}
