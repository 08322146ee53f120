import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResponderTurn } from '../../src/core/responder.js';
import type { JsonObject } from '../../src/core/types.js';

export const FIXTURES = join(import.meta.dirname, 'fixtures');

export function turn(text: string, locale = /[\u4e00-\u9fff]/.test(text) ? 'zh' : 'en', extra: Partial<ResponderTurn> = {}): ResponderTurn {
  const state: JsonObject = {};
  return { conversationId: 'c1', customerId: 'u1', channel: 'test', locale, kind: 'text', text, history: [], state, strikes: 0, ...extra };
}

export async function tempCopy(sub: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'kb-test-'));
  await cp(join(FIXTURES, sub), dir, { recursive: true });
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}
