/**
 * A capturing SMTP server on 127.0.0.1 (random port), built on the `smtp-server` package, for tests
 * that drive the real nodemailer client. Every accepted mail is kept with its envelope, its raw
 * bytes and mailparser's parse of them (captured before the server answers 250, so a resolved send
 * is already in `mails`).
 *
 *   const smtp = await startSmtpCapture({ auth: { user: 'bot', password: 's3cret' } });
 *   smtp.rejectRcpt('gone@example.com', 550, '5.1.1 No such user');  // every RCPT TO of it
 *   smtp.failNext(451, '4.3.0 Try again later');                     // the next DATA (once)
 *   smtp.failNext(421, 'Too busy', 'mail');                          // the next MAIL FROM (once)
 *   smtp.mails, smtp.connections, smtp.logins
 *   await smtp.close();
 *
 * STARTTLS is not offered (plain SMTP on loopback; AUTH is allowed without TLS), so a client with
 * `secure: false` stays in clear text.
 */
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

export interface CapturedMail {
  envelope: { from: string; to: string[] };
  raw: Buffer;
  parsed: ParsedMail;
  /** 1-based number of the connection it came over (see `connections`). */
  connection: number;
  /** The logged-in user, when the client authenticated. */
  user?: string;
}

export interface SmtpCaptureOptions {
  /** Require AUTH (PLAIN or LOGIN) with these credentials; without it AUTH is not offered. */
  auth?: { user: string; password: string };
}

export type FailStage = 'mail' | 'rcpt' | 'data';

export interface SmtpCapture {
  host: string;
  port: number;
  mails: CapturedMail[];
  /** Connections accepted so far. */
  readonly connections: number;
  /** Every AUTH attempt, in order. */
  logins: { user: string; ok: boolean }[];
  /** RCPT TO of this address is answered `<code> <message>` (until cleared with `acceptRcpt`). */
  rejectRcpt(address: string, code: number, message: string): void;
  acceptRcpt(address: string): void;
  /** The next command of `stage` (default DATA, after the message is read) is answered `<code> <message>`, once. */
  failNext(code: number, message: string, stage?: FailStage): void;
  close(): Promise<void>;
}

type Failure = { code: number; message: string };

function smtpError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

export async function startSmtpCapture(options: SmtpCaptureOptions = {}): Promise<SmtpCapture> {
  const mails: CapturedMail[] = [];
  const logins: { user: string; ok: boolean }[] = [];
  const rejected = new Map<string, Failure>();
  const pending: Record<FailStage, Failure[]> = { mail: [], rcpt: [], data: [] };
  const connectionOf = new Map<string, number>();
  let connections = 0;
  const auth = options.auth;

  const takeFailure = (stage: FailStage): Error | null => {
    const f = pending[stage].shift();
    return f ? smtpError(f.code, f.message) : null;
  };
  const user = (session: SMTPServerSession): string | undefined => (typeof session.user === 'string' ? session.user : undefined);

  const server = new SMTPServer({
    logger: false,
    disabledCommands: auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    authOptional: !auth,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    closeTimeout: 1000,
    onConnect(session, callback) {
      connections += 1;
      connectionOf.set(session.id, connections);
      callback();
    },
    onAuth(a, _session, callback) {
      const ok = auth !== undefined && a.username === auth.user && a.password === auth.password;
      logins.push({ user: a.username ?? '', ok });
      if (!ok) return callback(smtpError(535, '5.7.8 Authentication credentials invalid'));
      callback(null, { user: a.username });
    },
    onMailFrom(_address, _session, callback) {
      callback(takeFailure('mail'));
    },
    onRcptTo(address, _session, callback) {
      const r = rejected.get(address.address.toLowerCase());
      if (r) return callback(smtpError(r.code, r.message));
      callback(takeFailure('rcpt'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', (err: Error) => callback(err));
      stream.on('end', () => {
        const failure = takeFailure('data');
        if (failure) return callback(failure);
        const raw = Buffer.concat(chunks);
        simpleParser(raw)
          .then((parsed) => {
            const u = user(session);
            const envelopeFrom = session.envelope.mailFrom;
            mails.push({
              envelope: { from: envelopeFrom ? envelopeFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address) },
              raw,
              parsed,
              connection: connectionOf.get(session.id) ?? 0,
              ...(u !== undefined ? { user: u } : {}),
            });
            callback(null, 'Queued');
          })
          .catch((err: unknown) => callback(err instanceof Error ? err : new Error(String(err))));
      });
    },
  });
  server.on('error', () => {
    // A client that drops its socket mid-session; nothing for the test to see.
  });

  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.server.address() as AddressInfo;

  return {
    host: '127.0.0.1',
    port,
    mails,
    get connections() {
      return connections;
    },
    logins,
    rejectRcpt(address, code, message) {
      rejected.set(address.toLowerCase(), { code, message });
    },
    acceptRcpt(address) {
      rejected.delete(address.toLowerCase());
    },
    failNext(code, message, stage = 'data') {
      pending[stage].push({ code, message });
    },
    close() {
      return new Promise<void>((resolve) => {
        // Sessions a pooled client keeps open are ended now rather than after closeTimeout.
        for (const c of server.connections) c.close();
        server.close(() => resolve());
      });
    },
  };
}
