/**
 * A webhook receiver on 127.0.0.1 for the tests: it checks every request's signature with the
 * verification code of docs/webhooks.md (the very snippet a business would copy) and answers what
 * the test tells it to.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';

export type Verify = (rawBody: string, signatureHeader: string | undefined, secret: string, nowSeconds?: number) => boolean;

/** The `verifySignature` function of docs/webhooks.md's example, loaded as written there. */
export async function docsVerify(): Promise<Verify> {
  const doc = readFileSync('docs/webhooks.md', 'utf8');
  const block = [...doc.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1] ?? '').find((c) => c.includes('export function verifySignature'));
  if (!block) throw new Error('docs/webhooks.md has no ```js block exporting verifySignature');
  const mod = (await import(`data:text/javascript,${encodeURIComponent(block)}`)) as { verifySignature: Verify };
  return mod.verifySignature;
}

export interface Received {
  eventId: string;
  signature: string;
  raw: string;
  body: { id: string; type: string; createdAt: string; conversation: { id: string; channel: string; status: string }; customer: { id: string; externalId?: string; identities: { channel: string; id: string }[] }; data: Record<string, unknown> };
  verified: boolean;
  at: number;
  /** The answer given (status). */
  status: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait this long before answering. */
  delayMs?: number;
}

export interface Receiver {
  url: string;
  secret: string;
  /** Every request, in arrival order (including refused ones). */
  requests: Received[];
  /** Decides each answer; default 200. `n` counts earlier requests with the same event id. */
  answer: (r: Omit<Received, 'status'>, n: number) => Answer | Promise<Answer>;
  /** Verified requests per event id. */
  counts(): Map<string, number>;
  close(): Promise<void>;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export async function startReceiver(secret = 'whsec-test-0123456789abcdef'): Promise<Receiver> {
  const verify = await docsVerify();
  const sockets = new Set<import('node:net').Socket>();
  const r: Receiver = {
    url: '',
    secret,
    requests: [],
    answer: () => ({ status: 200 }),
    counts: () => {
      const m = new Map<string, number>();
      for (const q of r.requests) if (q.verified && q.status >= 200 && q.status < 300) m.set(q.eventId, (m.get(q.eventId) ?? 0) + 1);
      return m;
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const eventId = String(req.headers['switchboard-event-id'] ?? '');
      const signature = String(req.headers['switchboard-signature'] ?? '');
      const verified = verify(raw, signature, secret);
      const base = { eventId, signature, raw, body: JSON.parse(raw) as Received['body'], verified, at: Date.now() };
      const n = r.requests.filter((q) => q.eventId === eventId).length;
      const a: Answer = verified ? await r.answer(base, n) : { status: 401, body: 'bad signature' };
      r.requests.push({ ...base, status: a.status });
      if (a.delayMs) await new Promise((d) => setTimeout(d, a.delayMs));
      res.writeHead(a.status, { 'content-type': 'text/plain', ...a.headers });
      res.end(a.body ?? '');
    })().catch(() => {
      res.writeHead(500);
      res.end();
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return r;
}
