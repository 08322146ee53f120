/**
 * Question terms for the analytics feed's thread, computed by the hub's thread (issue #19, memory).
 * A Chinese question's terms need jieba, whose trie is about 50 MB of native memory per thread
 * that loads it; the hub's thread has it already when the knowledge bot answers (and loads it once
 * either way), so the feed's thread asks instead of loading a second one.
 *
 * - The hub (src/analytics/feed.ts) serves a `BroadcastChannel` named for its feed (`serveTerms`):
 *   a request carries texts, the answer their `questionTerms`.
 * - The thread (`RemoteTerms`) keeps what it got: `terms` answers from that cache (undefined: not
 *   known yet) and `fetchTerms` asks for the rest. The rebuild (rebuild.ts) folds once, and when
 *   the fold met texts it did not know it writes nothing, fetches them outside its transaction (a
 *   thread holding SQLite's write lock must not wait for the hub's loop, whose own connection may
 *   be waiting for that lock) and folds again.
 * - Nobody answering within `timeoutMs` (a hub that is stopping, a loop stalled that long): the
 *   thread computes them itself, loading its own jieba. Slower and larger, never wrong.
 */
import { BroadcastChannel } from 'node:worker_threads';
import { questionTerms } from './terms.js';

interface TermsRequest {
  kind: 'terms?';
  id: number;
  texts: string[];
}
interface TermsAnswer {
  kind: 'terms';
  id: number;
  terms: string[];
}

/** The hub's side: answers the requests on `name` with this thread's tokenizer until closed. */
export function serveTerms(name: string): { close(): void } {
  const channel = new BroadcastChannel(name);
  channel.onmessage = (ev: unknown) => {
    const m = (ev as { data?: Partial<TermsRequest> }).data;
    if (m?.kind !== 'terms?' || typeof m.id !== 'number' || !Array.isArray(m.texts)) return;
    const answer: TermsAnswer = { kind: 'terms', id: m.id, terms: m.texts.map((t) => questionTerms(String(t))) };
    channel.postMessage(answer);
  };
  // A hub's open channel must not keep its process alive after the hub stopped.
  channel.unref();
  return { close: () => channel.close() };
}

/** Terms a thread keeps (all dropped when full: a rebuild asks again for the few it needs). */
const KEEP = 10_000;

/** The feed thread's side (see the module comment). */
export class RemoteTerms {
  private readonly known = new Map<string, string>();
  private readonly waiting = new Map<number, (terms: string[]) => void>();
  private channel: BroadcastChannel | undefined;
  private nextId = 1;
  /** Texts this thread computed itself because nobody answered (0 while the hub answers). */
  computedHere = 0;

  constructor(
    private readonly name: string,
    private readonly timeoutMs = 10_000,
  ) {}

  /** The terms of `text` when known here, else undefined (FoldOptions.terms). */
  readonly terms = (text: string): string | undefined => this.known.get(text);

  /** Gets the terms of `texts` not known yet (FoldOptions.fetchTerms). */
  readonly fetchTerms = async (texts: readonly string[]): Promise<void> => {
    const want = [...new Set(texts)].filter((t) => !this.known.has(t));
    if (want.length === 0) return;
    let got = await this.ask(want);
    if (!got || got.length !== want.length) {
      got = want.map(questionTerms);
      this.computedHere += want.length;
    }
    if (this.known.size + want.length > KEEP) this.known.clear();
    want.forEach((t, i) => this.known.set(t, got[i] ?? ''));
  };

  close(): void {
    this.channel?.close();
    this.channel = undefined;
  }

  private ask(texts: string[]): Promise<string[] | undefined> {
    const channel = this.open();
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve(undefined);
      }, this.timeoutMs);
      this.waiting.set(id, (terms) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(terms);
      });
      const request: TermsRequest = { kind: 'terms?', id, texts };
      channel.postMessage(request);
    });
  }

  private open(): BroadcastChannel {
    if (this.channel) return this.channel;
    const channel = new BroadcastChannel(this.name);
    channel.onmessage = (ev: unknown) => {
      const m = (ev as { data?: Partial<TermsAnswer> }).data;
      if (m?.kind !== 'terms' || typeof m.id !== 'number' || !Array.isArray(m.terms)) return;
      this.waiting.get(m.id)?.(m.terms.map(String));
    };
    // Only a pending request (its timer) keeps the thread alive, never the channel itself.
    channel.unref();
    this.channel = channel;
    return channel;
  }
}
