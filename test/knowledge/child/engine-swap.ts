/**
 * Run by engine-swap.test.ts in a child process with `--allow-natives-syntax`: an engine answers
 * until `rank` is optimized, then an engine from a copy of the same state (as a hot reload installs
 * one, transferred from the reload worker) answers once. Prints whether `rank` was optimized before
 * and is still optimized after, with `Engine.preparePerThread` run first (argument `prep`) or not.
 */
import { Engine } from '../../../src/knowledge/engine.js';

const prep = process.argv[2] === 'prep';
const native = (name: string) => new Function('f', `return %${name}(f)`) as (f: unknown) => number;
const status = native('GetOptimizationStatus');
const prepareForOptimization = native('PrepareFunctionForOptimization');
const optimizeOnNextCall = native('OptimizeFunctionOnNextCall');
/** V8's OptimizationStatus bit: the function runs optimized code. */
const OPTIMIZED = 1 << 4;

const entries = Array.from({ length: 30 }, (_, i) => ({ id: `e${i}`, questions: [`how do i change thing ${i} alpha`, `thing ${i} beta please`, `我的订单${i}怎么办`] }));
const built = await Engine.build(entries, { yieldEveryMs: null });
// The order of a watched knowledge base: the first engine from the worker, then the preparation.
const first = Engine.fromState(structuredClone(built.state));
if (prep) await Engine.preparePerThread();
const rank = Engine.prototype.rank;
prepareForOptimization(rank);
for (let i = 0; i < 50; i++) first.rank(`thing ${i % 30} alpha`);
optimizeOnNextCall(rank);
first.rank('thing 3 alpha');
const before = (status(rank) & OPTIMIZED) !== 0;
const next = Engine.fromState(structuredClone(built.state));
const answer = next.rank('thing 4 alpha')[0]?.id;
const after = (status(rank) & OPTIMIZED) !== 0;
console.log(JSON.stringify({ before, after, answer }));
