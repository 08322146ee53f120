/**
 * The first answers after a hot reload run optimized code (src/knowledge/engine.ts
 * `Engine.preparePerThread`): without the tiny engines it builds first, installing a second engine
 * throws away the optimized `rank` (V8 had compiled the single engine's fields as constants).
 * Observed through V8's own optimization status, in a child process (`--allow-natives-syntax`).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./child/engine-swap.ts', import.meta.url));

function swap(mode: 'prep' | 'none'): { before: boolean; after: boolean; answer: string } {
  const out = execFileSync(process.execPath, ['--allow-natives-syntax', '--import', 'tsx', CHILD, mode], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as { before: boolean; after: boolean; answer: string };
}

describe('an engine swap on the answering thread', () => {
  it('keeps rank optimized when the thread was prepared, and loses it when not', () => {
    assert.deepEqual(swap('prep'), { before: true, after: true, answer: 'e4' });
    // The check can see a deoptimization: without the preparation the swap throws the code away.
    assert.deepEqual(swap('none'), { before: true, after: false, answer: 'e4' });
  });
});
