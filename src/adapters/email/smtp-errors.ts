import { HubError, errorMessage, type HubErrorCode, type Retryability } from '../../core/errors.js';

/** The credentials to keep out of error messages (the user is needed to recognise an AUTH PLAIN token). */
export interface SmtpSecrets {
  user?: string | undefined;
  password?: string | undefined;
}

/** What nodemailer attaches to its errors (its `NodemailerError`), read defensively. */
interface SmtpFailure {
  message: string;
  /** nodemailer's code (EAUTH, EENVELOPE, ESOCKET…) or Node's (ECONNREFUSED…). */
  code?: string;
  /** The system code under nodemailer's, e.g. ECONNREFUSED under ESOCKET. */
  originalCode?: string;
  /** The SMTP command in flight: `RCPT TO`, `MAIL FROM`, `DATA`, `AUTH PLAIN`, `CONN`, `API`… */
  command?: string;
  response?: string;
  responseCode?: number;
  recipient?: string;
}

const NETWORK_CODES = new Set([
  'ECONNECTION', 'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ENOTFOUND', 'EAI_AGAIN',
  'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ETLS', 'EPROXY', 'EPROTOCOL',
]);
const AUTH_REPLIES = new Set([530, 534, 535, 538]);
const HINT_AUTH = 'check channels.email.smtp.user and channels.email.smtp.password; many providers want an app password here';
const HINT_HOST = 'check channels.email.smtp.host and channels.email.smtp.port';
const HINT_TLS = 'check channels.email.smtp.secure: true for port 465, false for 587 and 25 (STARTTLS is used when offered)';
const HINT_SIZE = 'the mail is over the server size limit';
const HINT_SENDER = 'the server refuses channels.email.from.address as sender: it must be an address this SMTP account may send as';
const HINT_RELAY = 'the server refuses to relay for us: set channels.email.smtp.user and channels.email.smtp.password';

/** Removes the password (plain and as the base64 AUTH LOGIN / AUTH PLAIN tokens) from text bound for logs and errors. */
export function scrubSecrets(text: string, secrets: SmtpSecrets): string {
  const pass = secrets.password;
  if (!pass) return text;
  const forms = [pass, Buffer.from(pass).toString('base64'), Buffer.from(`\0${secrets.user ?? ''}\0${pass}`).toString('base64')];
  return forms.reduce((out, form) => out.split(form).join('<password>'), text);
}

/**
 * Maps a nodemailer failure to the hub's retry classes (the outbound queue acts on `retry`):
 * - 4xx replies (and 503, a session in the wrong state) and network failures -> NETWORK, retry;
 * - 530/534/535/538 and nodemailer's EAUTH -> AUTH_FAILED, retry (the operator fixes the password, the backlog goes out);
 * - 5xx about the recipient (5.1.x / 5.2.1 enhanced codes, a RCPT TO rejection, a bare 550/551/553) ->
 *   RECIPIENT_UNREACHABLE, final (the core marks the address unreachable);
 * - 552 / 5.3.4 (too big) and every other 5xx (policy, spam, sender refused) -> PLATFORM_REFUSED, final.
 * A 5.7.x policy reply, a refused sender (MAIL FROM, 5.1.7/5.1.8) and a relay refusal are never blamed on the
 * recipient: marking a customer unreachable for our own misconfiguration would silence them for good.
 * Messages quote the server's reply line and never carry the password.
 */
export function classifySmtpError(err: unknown, secrets: SmtpSecrets = {}): HubError {
  if (err instanceof HubError) return err;
  const f = readFailure(err);
  const scrub = (s: string): string => scrubSecrets(s, secrets);
  const response = f.response === undefined ? undefined : scrub(f.response.replace(/\s+/g, ' ').trim()).slice(0, 400);
  const rc = f.responseCode ?? replyCode(response);
  const enhanced = response === undefined ? undefined : /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(response)?.[1];
  const command = f.command && f.command !== 'API' && f.command !== 'CONN' ? f.command : undefined;
  const context: Record<string, unknown> = {
    ...(f.code ? { smtpCode: f.code } : {}),
    ...(f.originalCode ? { systemCode: f.originalCode } : {}),
    ...(command ? { command } : {}),
    ...(rc !== undefined ? { responseCode: rc } : {}),
    ...(enhanced ? { enhancedCode: enhanced } : {}),
    ...(response ? { response } : {}),
    ...(f.recipient ? { recipient: f.recipient } : {}),
  };
  const base = `SMTP${command ? ` ${command}` : ''}`;
  const make = (code: HubErrorCode, retry: Retryability, text: string, hint?: string, field?: string): HubError =>
    new HubError(code, hint ? `${text} (${hint})` : text, { context: field ? { ...context, field } : context, retry });

  if (rc !== undefined) {
    const line = response ?? scrub(f.message);
    const said = `${base} refused${f.recipient ? ` <${f.recipient}>` : ''}: ${line}`;
    if ((rc >= 400 && rc < 500) || rc === 503) return make('NETWORK', 'retry', said);
    if (AUTH_REPLIES.has(rc) || f.code === 'EAUTH') {
      const hint = rc === 538 || /starttls|encryption/i.test(line) ? HINT_TLS : HINT_AUTH;
      return make('AUTH_FAILED', 'retry', said, hint, hint === HINT_AUTH ? 'channels.email.smtp.user' : 'channels.email.smtp.secure');
    }
    if (rc >= 500) {
      if (rc === 552 || enhanced === '5.3.4' || enhanced === '5.2.3') {
        const tooBig = enhanced === '5.3.4' || enhanced === '5.2.3' || (enhanced === undefined && /size|too (big|large)|message length/i.test(line));
        return make('PLATFORM_REFUSED', 'final', said, tooBig ? HINT_SIZE : undefined);
      }
      if (isAboutRecipient(rc, enhanced, command, line)) return make('RECIPIENT_UNREACHABLE', 'final', said);
      if (command === 'MAIL FROM' || enhanced === '5.1.7' || enhanced === '5.1.8') return make('PLATFORM_REFUSED', 'final', said, HINT_SENDER, 'channels.email.from.address');
      if (/relay/i.test(line)) return make('PLATFORM_REFUSED', 'final', said, HINT_RELAY, 'channels.email.smtp.user');
      return make('PLATFORM_REFUSED', 'final', said);
    }
  }

  // No SMTP reply: nodemailer refused before sending, or the connection failed.
  const msg = scrub(f.message.replace(/\s+/g, ' ').trim()).slice(0, 400);
  const sys = f.originalCode ?? f.code;
  if (f.code === 'EAUTH' || f.code === 'ENOAUTH') return make('AUTH_FAILED', 'retry', `SMTP login: ${msg}`, HINT_AUTH, 'channels.email.smtp.user');
  if (f.code === 'EENVELOPE' && /recipient/i.test(msg)) return make('RECIPIENT_UNREACHABLE', 'final', `SMTP: ${msg}`);
  if (f.code === 'EENVELOPE' && /sender/i.test(msg)) return make('CONFIG_INVALID', 'final', `SMTP: ${msg}`, HINT_SENDER, 'channels.email.from.address');
  if (f.code === 'EMESSAGE' && /size/i.test(msg)) return make('PLATFORM_REFUSED', 'final', `SMTP: ${msg}`, HINT_SIZE);
  if (f.code === 'ECONFIG') return make('CONFIG_INVALID', 'final', `SMTP: ${msg}`, HINT_HOST, 'channels.email.smtp.host');
  if (f.code === 'ETLS' || /wrong version number|ssl3?_|tls/i.test(msg)) return make('NETWORK', 'retry', `SMTP connection: ${msg}`, HINT_TLS, 'channels.email.smtp.secure');
  if (sys !== undefined && ['ECONNREFUSED', 'EDNS', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT'].includes(sys)) {
    return make('NETWORK', 'retry', `SMTP connection: ${msg}`, HINT_HOST, 'channels.email.smtp.host');
  }
  if (sys === undefined || NETWORK_CODES.has(sys) || (f.code !== undefined && NETWORK_CODES.has(f.code))) {
    return make('NETWORK', 'retry', `SMTP connection: ${msg}`);
  }
  // Anything else (a stream error, an unexpected code): transient until proven otherwise.
  return make('NETWORK', 'retry', `SMTP: ${msg}`);
}

/** A 5xx that says the address itself is bad (no such user, bad domain, mailbox unavailable). */
function isAboutRecipient(rc: number, enhanced: string | undefined, command: string | undefined, response: string): boolean {
  if (enhanced?.startsWith('5.7.') || enhanced === '5.1.7' || enhanced === '5.1.8') return false;
  if (command === 'MAIL FROM' || /relay/i.test(response)) return false;
  if (enhanced?.startsWith('5.1.') || enhanced === '5.2.1') return true;
  if (command === 'RCPT TO') return true;
  // A bare 550/551/553 on DATA is a content verdict (spam, policy), not a bad address.
  return command === undefined && (rc === 550 || rc === 551 || rc === 553);
}

function replyCode(response: string | undefined): number | undefined {
  const m = response === undefined ? null : /^([2-5]\d\d)\b/.exec(response);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

function readFailure(err: unknown): SmtpFailure {
  const o = (typeof err === 'object' && err !== null ? err : {}) as Record<string, unknown>;
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const f: SmtpFailure = { message: errorMessage(err) };
  const set = <K extends keyof SmtpFailure>(key: K, value: SmtpFailure[K] | undefined): void => {
    if (value !== undefined) f[key] = value;
  };
  set('code', str(o.code));
  set('originalCode', str(o.originalCode));
  set('command', str(o.command));
  set('response', str(o.response));
  set('responseCode', typeof o.responseCode === 'number' ? o.responseCode : undefined);
  // "all recipients were rejected" carries the per-recipient errors; the first names the address.
  const first = Array.isArray(o.rejectedErrors) ? (o.rejectedErrors[0] as Record<string, unknown> | undefined) : undefined;
  const rejected = Array.isArray(o.rejected) ? o.rejected[0] : undefined;
  set('recipient', str(o.recipient) ?? str(first?.recipient) ?? str(rejected));
  return f;
}
