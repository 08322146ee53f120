/**
 * A fake OpenAI-compatible server on 127.0.0.1 (random port) for tests that drive the real `openai`
 * client: `POST /v1/chat/completions` and `POST /v1/embeddings` with real response shapes.
 *
 *   const fake = await startFakeOpenAI();
 *   fake.queue({ content: '{"answer": "hi", "cite": ["e1"]}' });   // next chat replies, in order
 *   fake.onChat = (body) => ({ content: body.messages[0]?.content ?? '' }); // when the queue is empty
 *   createLlmAnswerer({ baseUrl: fake.baseUrl, apiKey: 'k', ... });
 *   fake.requests                                                    // everything received
 *   await fake.close();
 *
 * A reply may set `status` (+ `error` message) for API errors, `delayMs` to simulate a slow server,
 * and `headers` (e.g. `{ 'retry-after-ms': '1' }` so the SDK retries without waiting).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatMessage {
  role: string;
  content: string;
}
export interface ChatBody {
  model: string;
  messages: ChatMessage[];
  temperature?: number;
  [key: string]: unknown;
}
export interface EmbeddingsBody {
  model: string;
  input: string | string[];
  encoding_format?: string;
  [key: string]: unknown;
}
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}
export interface FakeReply {
  /** Assistant message content (chat) — ignored when `status` is an error. */
  content?: string;
  /** Embedding vectors (embeddings); default: a deterministic 8-dim vector per input. */
  embeddings?: number[][];
  /** HTTP status; >= 400 sends an OpenAI-style error body. Default 200. */
  status?: number;
  error?: string;
  delayMs?: number;
  headers?: Record<string, string>;
  finishReason?: string;
}

export interface FakeOpenAI {
  /** e.g. `http://127.0.0.1:12345/v1` — pass as `baseUrl`. */
  baseUrl: string;
  requests: RecordedRequest[];
  /** Chat bodies received, in order. */
  chatRequests(): ChatBody[];
  /** Queue chat replies, consumed in order before `onChat`. */
  queue(...replies: FakeReply[]): void;
  /** Queue embeddings replies, consumed in order before `onEmbed`. */
  queueEmbeddings(...replies: FakeReply[]): void;
  onChat: (body: ChatBody) => FakeReply;
  onEmbed: (body: EmbeddingsBody) => FakeReply;
  close(): Promise<void>;
}

/** Deterministic pseudo-embedding of a text (tests only). */
export function fakeVector(text: string, dims = 8): number[] {
  const v = new Array<number>(dims).fill(0);
  for (let i = 0; i < text.length; i++) v[i % dims] = (v[i % dims] ?? 0) + (text.charCodeAt(i) % 97) / 97;
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1;
  return v.map((x) => x / norm);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.writableEnded) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

export async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const chatQueue: FakeReply[] = [];
  const embedQueue: FakeReply[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let seq = 0;

  const fake: FakeOpenAI = {
    baseUrl: '',
    requests: [],
    chatRequests: () => fake.requests.filter((r) => r.path.endsWith('/chat/completions')).map((r) => r.body as ChatBody),
    queue: (...replies) => void chatQueue.push(...replies),
    queueEmbeddings: (...replies) => void embedQueue.push(...replies),
    onChat: () => ({ content: '{"answer": null}' }),
    onEmbed: () => ({}),
    close: async () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  function respond(res: ServerResponse, reply: FakeReply, ok: () => unknown): void {
    const go = (): void => {
      const status = reply.status ?? 200;
      if (status >= 400) {
        send(res, status, { error: { message: reply.error ?? `fake error ${status}`, type: 'fake_error', code: null, param: null } }, reply.headers);
      } else {
        send(res, status, ok(), reply.headers);
      }
    };
    if (reply.delayMs === undefined) return go();
    const t = setTimeout(() => {
      timers.delete(t);
      go();
    }, reply.delayMs);
    timers.add(t);
  }

  const server = createServer((req, res) => {
    void (async () => {
      const text = await readBody(req);
      let body: unknown = text;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        // keep raw text
      }
      const path = (req.url ?? '').split('?')[0] ?? '';
      fake.requests.push({ method: req.method ?? '', path, headers: { ...req.headers }, body });
      const created = Math.floor(Date.now() / 1000);
      if (req.method === 'POST' && path === '/v1/chat/completions') {
        const chatBody = body as ChatBody;
        const reply = chatQueue.shift() ?? fake.onChat(chatBody);
        respond(res, reply, () => ({
          id: `chatcmpl-fake-${++seq}`,
          object: 'chat.completion',
          created,
          model: chatBody.model,
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: reply.content ?? '', refusal: null },
              finish_reason: reply.finishReason ?? 'stop',
              logprobs: null,
            },
          ],
          usage: { prompt_tokens: 10, completion_tokens: 10, total_tokens: 20 },
        }));
        return;
      }
      if (req.method === 'POST' && path === '/v1/embeddings') {
        const embBody = body as EmbeddingsBody;
        const inputs = Array.isArray(embBody.input) ? embBody.input : [embBody.input];
        const reply = embedQueue.shift() ?? fake.onEmbed(embBody);
        const vectors = reply.embeddings ?? inputs.map((t) => fakeVector(t));
        respond(res, reply, () => ({
          object: 'list',
          model: embBody.model,
          data: vectors.map((embedding, index) => ({ object: 'embedding', index, embedding })),
          usage: { prompt_tokens: inputs.length, total_tokens: inputs.length },
        }));
        return;
      }
      send(res, 404, { error: { message: `no route ${req.method} ${path}`, type: 'invalid_request_error' } });
    })().catch(() => send(res, 500, { error: { message: 'fake server crashed', type: 'server_error' } }));
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  fake.baseUrl = `http://127.0.0.1:${port}/v1`;
  return fake;
}
