import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { test } from 'node:test';
import { isHubError, type HubError } from '../../src/core/errors.js';
import { KnowledgeBot } from '../../src/knowledge/bot.js';
import { botConfigSchema } from '../../src/knowledge/config.js';
import { Engine, transferList } from '../../src/knowledge/engine.js';
import { HashVocab } from '../../src/knowledge/hash-vocab.js';
import { loadKnowledgeDir, parseKnowledgeFile, type ParseCache } from '../../src/knowledge/loader.js';
import { ReloadWorker, reloadWorkerBootstrap } from '../../src/knowledge/reloader.js';
import { defaultTemplates, templateProblems } from '../../src/knowledge/templates.js';
import { defaultSmallTalk } from '../../src/knowledge/small-talk.js';
import { FIXTURES, tempCopy, turn, waitFor } from './helpers.js';
import { niceValues } from '../helpers/threads.js';

const cfg = botConfigSchema.parse({ reloadDebounceMs: 50 });

/** Read through a function so TypeScript does not keep a narrowing across awaits. */
function lastErrorOf(bot: KnowledgeBot): HubError | undefined {
  return bot.lastError;
}

function catchErr(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  assert.fail('expected an error');
}

test('a missing answer names file, line and field', () => {
  const src = ['entries:', '  - id: ok', '    questions: [a]', '    answer: yes', '  - id: broken', '    questions: [b]', '    tags: [x]', ''].join('\n');
  const err = catchErr(() => parseKnowledgeFile('kb/faq.yaml', src));
  assert.ok(isHubError(err, 'CONFIG_INVALID'));
  assert.equal(err.context.file, 'kb/faq.yaml');
  assert.equal(err.context.line, 5);
  assert.equal(err.context.field, 'entries[1].answer');
  assert.match(err.message, /^kb\/faq\.yaml:5: entries\[1\]\.answer: /);
});

test('a bad field value points at its own line', () => {
  const src = ['entries:', '  - id: ok', '    questions:', '      - fine', '      - 42', '    answer: yes', ''].join('\n');
  const err = catchErr(() => parseKnowledgeFile('f.yaml', src));
  assert.ok(isHubError(err, 'CONFIG_INVALID'));
  assert.equal(err.context.line, 5);
  assert.equal(err.context.field, 'entries[0].questions[1]');
});

test('YAML syntax errors carry the line', () => {
  const err = catchErr(() => parseKnowledgeFile('f.yaml', 'entries:\n  - id: a\n    questions: [unclosed\n    answer: x\n'));
  assert.ok(isHubError(err, 'CONFIG_INVALID'));
  assert.ok(typeof err.context.line === 'number' && err.context.line >= 3);
});

test('duplicate ids across files are an error naming both places', async () => {
  const { dir, cleanup } = await tempCopy('shop');
  try {
    await writeFile(join(dir, 'zz-dup.yaml'), 'entries:\n  - id: invoice\n    questions: [dup]\n    answer: dup\n');
    await assert.rejects(loadKnowledgeDir(dir), (err: unknown) => {
      assert.ok(isHubError(err, 'CONFIG_INVALID'));
      assert.equal(err.context.file, join(dir, 'zz-dup.yaml'));
      assert.equal(err.context.line, 2);
      assert.equal(err.context.field, 'id');
      assert.match(err.message, /duplicate id "invoice".*billing\.yaml:\d+/);
      return true;
    });
  } finally {
    await cleanup();
  }
});

test('templates file overrides texts per locale', async () => {
  const { dir, cleanup } = await tempCopy('shop');
  try {
    await writeFile(join(dir, '_templates.yaml'), 'empty: { zh: 你好呀！ }\n');
    const bot = await KnowledgeBot.create({ dir, bot: cfg });
    const zh = await bot.respond(turn('', 'zh'));
    const en = await bot.respond(turn('', 'en'));
    assert.ok(zh.kind === 'answer' && zh.text === '你好呀！');
    assert.ok(en.kind === 'answer' && en.text.startsWith('Hello'));
    await bot.close();
  } finally {
    await cleanup();
  }
});

test('templates file: a text using a variable its key does not take is a load error naming file, line, key and variable', async () => {
  const { dir, cleanup } = await tempCopy('shop');
  try {
    const file = join(dir, '_templates.yaml');
    await writeFile(file, 'greeting: { zh: 您好！, en: Hello! }\nclarify:\n  zh: 您是想问{{slot}}吗？\n');
    await assert.rejects(loadKnowledgeDir(dir), (err: unknown) => {
      assert.ok(isHubError(err));
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.deepEqual(err.context, { file, line: 3, field: 'clarify.zh' });
      assert.match(err.message, /_templates\.yaml:3: clarify\.zh: uses \{\{slot\}\}, which clarify does not provide \(it takes no variables\)/);
      return true;
    });
    await writeFile(file, 'askSlot: "Your {{slots}}?"\n');
    await assert.rejects(loadKnowledgeDir(dir), /_templates\.yaml:1: askSlot: uses \{\{slots\}\}, which askSlot does not provide \(it takes \{\{slot\}\}\)/);
  } finally {
    await cleanup();
  }
});

test('the code defaults use only their declared variables; slotInvalid fills {{slot}} through the core renderer', async () => {
  assert.deepEqual(templateProblems(defaultTemplates), []);
  const { dir, cleanup } = await tempCopy('shop');
  try {
    await writeFile(join(dir, 'orders.yaml'), await readFile(join(FIXTURES, 'orders-action.yaml'), 'utf8'));
    await writeFile(join(dir, '_templates.yaml'), 'slotInvalid: { zh: "{{slot}} 格式不对。" }\n');
    const bot = await KnowledgeBot.create({ dir, bot: cfg });
    try {
      const ask = await bot.respond(turn('我的订单到哪了', 'zh'));
      assert.ok(ask.kind === 'answer' && ask.state, JSON.stringify(ask));
      const again = await bot.respond(turn('不知道', 'zh', { state: ask.state }));
      assert.ok(again.kind === 'answer', JSON.stringify(again));
      assert.equal(again.text, 'order_no 格式不对。 请提供您的订单号。');
    } finally {
      await bot.close();
    }
  } finally {
    await cleanup();
  }
});

test('hot reload: a new entry is picked up, a broken edit keeps the last good version with file/line/field', async () => {
  const { dir, cleanup } = await tempCopy('shop');
  const bot = await KnowledgeBot.create({ dir, bot: cfg, watch: true });
  try {
    const count = bot.entryCount;
    const before = await bot.respond(turn('你们的营业执照在哪里看'));
    assert.equal(before.kind, 'escalate');

    await writeFile(
      join(dir, 'license.yaml'),
      'entries:\n  - id: business_license\n    questions: [营业执照在哪里看, 你们有营业执照吗, where can i see your business license]\n    answer: { zh: 营业执照在网站底部。, en: See the footer. }\n',
    );
    await waitFor(() => bot.entryCount === count + 1);
    const after = await bot.respond(turn('你们的营业执照在哪里看'));
    assert.equal(after.kind, 'answer', JSON.stringify(after));
    assert.equal(after.entryIds?.[0], 'business_license');
    assert.equal(bot.lastError, undefined);

    // Break billing.yaml: the invoice entry loses its answer.
    const billing = join(dir, 'billing.yaml');
    const good = await readFile(billing, 'utf8');
    const lines = good.split('\n');
    const answerLine = lines.findIndex((l) => l.trim() === 'answer:');
    const broken = [...lines.slice(0, answerLine), ...lines.slice(answerLine + 3)].join('\n');
    await writeFile(billing, broken);
    await waitFor(() => bot.lastError !== undefined);
    const err = lastErrorOf(bot);
    assert.ok(err && isHubError(err, 'CONFIG_INVALID'));
    assert.equal(err.context.file, billing);
    assert.equal(err.context.field, 'entries[0].answer');
    assert.equal(err.context.line, 2);
    // The last good version still answers, including the entry from the new file.
    const still = await bot.respond(turn('我想开发票'));
    assert.ok(still.kind === 'answer' && still.entryIds?.[0] === 'invoice');
    assert.equal(bot.entryCount, count + 1);

    // Fixing the file clears the error.
    await writeFile(billing, good);
    await waitFor(() => bot.lastError === undefined);
  } finally {
    await bot.close();
    await cleanup();
  }
});

test('a broken directory at start-up fails with CONFIG_INVALID', async () => {
  const { dir, cleanup } = await tempCopy('shop');
  try {
    await writeFile(join(dir, 'bad.yaml'), 'entries:\n  - id: x\n    answer: y\n');
    await assert.rejects(KnowledgeBot.create({ dir, bot: cfg }), (err: unknown) => isHubError(err, 'CONFIG_INVALID') && err.context.field === 'entries[0].questions');
  } finally {
    await cleanup();
  }
});

test('HashVocab maps each key to its position and unknown keys to undefined', () => {
  const keys = Array.from({ length: 5000 }, (_, i) => `k${i}`);
  const v = HashVocab.fromKeys(keys, keys.length);
  assert.equal(v.size, 5000);
  for (const [i, k] of keys.entries()) assert.equal(v.get(k), i);
  assert.equal(v.get('nope'), undefined);
  assert.equal(v.get(''), undefined);
  const copy = HashVocab.fromState(structuredClone(v.state));
  assert.equal(copy.get('k4242'), 4242);
});

test('an engine rebuilt from its transferable state ranks exactly like the original', async () => {
  const kb = await loadKnowledgeDir(join(FIXTURES, 'shop'));
  const built = await Engine.build(kb.entries.map((e) => ({ id: e.id, questions: e.examples })), { yieldEveryMs: null });
  const questions = ['会员', '我想开发票', 'how do I get a refund', '今天天气怎么样'];
  const expected = questions.map((q) => built.rank(q, 3));
  const state = built.state;
  // Transferring detaches the buffers from `built`: it must not be used afterwards.
  const moved = structuredClone(state, { transfer: transferList(state) });
  const again = Engine.fromState(moved);
  questions.forEach((q, i) => assert.deepEqual(again.rank(q, 3), expected[i], q));
});

test('the parse cache re-parses only changed files and forgets removed ones', async () => {
  const { dir, cleanup } = await tempCopy('shop');
  try {
    const cache: ParseCache = new Map();
    const first = await loadKnowledgeDir(dir, cache);
    const billing = join(dir, 'billing.yaml');
    const other = first.files.find((f) => f !== billing && !f.endsWith('_templates.yaml'));
    assert.ok(other && cache.has(billing));
    const billingBefore = cache.get(billing)?.entries;
    const otherBefore = cache.get(other)?.entries;
    await writeFile(billing, (await readFile(billing, 'utf8')).replace('zh: [怎么开发票,', 'zh: [发票抬头怎么改, 怎么开发票,'));
    const second = await loadKnowledgeDir(dir, cache);
    assert.equal(cache.get(other)?.entries, otherBefore, 'unchanged file reused');
    assert.notEqual(cache.get(billing)?.entries, billingBefore, 'changed file re-parsed');
    assert.ok(second.entries.some((e) => e.examples.includes('发票抬头怎么改')));
    await rm(other);
    await loadKnowledgeDir(dir, cache);
    assert.equal(cache.has(other), false);
  } finally {
    await cleanup();
  }
});

test('cached files keep their small-talk warnings; an edited file gets new ones', async () => {
  const { dir, cleanup } = await tempCopy('shop');
  try {
    const cache: ParseCache = new Map();
    const billing = join(dir, 'billing.yaml');
    const small = (w: readonly string[]): string[] => w.filter((x) => x.includes('is small talk'));
    assert.deepEqual(small((await loadKnowledgeDir(dir, cache)).warnings), []);
    const source = await readFile(billing, 'utf8');
    await writeFile(billing, source.replace('zh: [怎么开发票,', 'zh: [你好, 怎么开发票,'));
    const [warning, ...more] = small((await loadKnowledgeDir(dir, cache)).warnings);
    assert.match(warning ?? '', /billing\.yaml:\d+: questions: "你好" is small talk/);
    assert.deepEqual(more, []);
    // Unchanged since: the same warning, from the cache.
    assert.deepEqual(small((await loadKnowledgeDir(dir, cache)).warnings), [warning]);
    // Other phrases: judged again ("你好" is no longer small talk, "怎么开发票" now is).
    assert.deepEqual(small((await loadKnowledgeDir(dir, cache, { ...defaultSmallTalk, greeting: ['怎么开发票'] })).warnings).map((w) => /"(.+?)"/.exec(w)?.[1]), ['怎么开发票']);
    await writeFile(billing, source);
    assert.deepEqual(small((await loadKnowledgeDir(dir, cache)).warnings), []);
  } finally {
    await cleanup();
  }
});

test('the reload worker loads a directory off the main thread and reports bad files with file/line/field', async () => {
  const { dir, cleanup } = await tempCopy('shop');
  const worker = new ReloadWorker();
  try {
    const r = await worker.load(dir, 400);
    // Its code is the hub's esbuild bundle: no TypeScript compiled in the thread.
    assert.equal(worker.fromBundle, true);
    const local = await loadKnowledgeDir(dir);
    assert.deepEqual(
      r.entries.map((e) => e.id),
      local.entries.map((e) => e.id),
    );
    const engine = Engine.fromState(r.engine);
    assert.equal(engine.rank('我想开发票', 1)[0]?.id, 'invoice');
    await writeFile(join(dir, 'bad.yaml'), 'entries:\n  - id: x\n    answer: y\n');
    await assert.rejects(worker.load(dir, 400), (err: unknown) => isHubError(err, 'CONFIG_INVALID') && err.context.field === 'entries[0].questions');
  } finally {
    await worker.close();
    await cleanup();
  }
});

test('a reload worker whose bundle is gone starts from the TypeScript sources (tsx in the thread)', async () => {
  const first = (code: string) =>
    new Promise<unknown>((resolve, reject) => {
      const w = new Worker(code, { eval: true });
      w.once('message', (m: unknown) => void w.terminate().then(() => resolve(m)));
      w.once('error', reject);
    });
  assert.deepEqual(await first(reloadWorkerBootstrap(pathToFileURL(join(tmpdir(), 'sb-no-such-bundle', 'reload-worker.mjs')).href)), { ready: true, bundle: false });
  assert.deepEqual(await first(reloadWorkerBootstrap(undefined)), { ready: true, bundle: false });
});

test('a reload parses only the changed files on the answering thread; the other entries are the ones it holds', async () => {
  const { dir, cleanup } = await tempCopy('shop');
  const worker = new ReloadWorker({ idleMs: 200 });
  const file = (e: { source: { file: string } }) => e.source.file.split('/').pop();
  try {
    const first = await worker.load(dir, 400);
    const billing = join(dir, 'billing.yaml');
    await writeFile(billing, (await readFile(billing, 'utf8')).replace('[怎么开发票,', '[怎么开发票, 开票流程是什么,'));
    const second = await worker.load(dir, 400);
    const local = await loadKnowledgeDir(dir);
    assert.deepEqual(second.entries, local.entries, 'the same entries as a load on this thread');
    assert.deepEqual(second.byId.get('invoice')?.examples.slice(0, 2), ['怎么开发票', '开票流程是什么']);
    for (const e of second.entries) {
      const same = first.byId.get(e.id) === e;
      assert.equal(same, file(e) !== 'billing.yaml', `${e.id} (${file(e)}) ${same ? 'kept' : 'parsed again'}`);
    }
    assert.ok(second.entries.some((e) => file(e) !== 'billing.yaml'));
    // A broken edit fails, and the next good load is still whole.
    await writeFile(join(dir, 'bad.yaml'), 'entries:\n  - id: x\n    answer: y\n');
    await assert.rejects(worker.load(dir, 400));
    await rm(join(dir, 'bad.yaml'));
    await writeFile(billing, (await readFile(billing, 'utf8')).replace('开票流程是什么, ', ''));
    const third = await worker.load(dir, 400);
    assert.deepEqual(third.entries, (await loadKnowledgeDir(dir)).entries);
    // A new thread (the idle one ended) holds nothing yet: it sends everything, and the result is whole.
    await waitFor(() => !worker.running);
    const fourth = await worker.load(dir, 400);
    assert.deepEqual(fourth.entries, third.entries);
    assert.ok(fourth.entries.every((e) => third.byId.get(e.id) !== e));
  } finally {
    await worker.close();
    await cleanup();
  }
});

test('an idle reload worker ends its thread, and the next load starts a new one', async () => {
  const { dir, cleanup } = await tempCopy('shop');
  const worker = new ReloadWorker({ idleMs: 200 });
  // The process's threads (Linux): the worker's thread and its module hook thread come and go.
  const threads = () => (process.platform === 'linux' ? readdirSync('/proc/self/task').length : 0);
  try {
    const before = threads();
    await worker.load(dir, 400);
    assert.equal(worker.running, true);
    if (process.platform === 'linux') assert.ok(threads() > before);
    // A request keeps it: asked again within the idle time, it is still running after.
    await new Promise((r) => setTimeout(r, 100));
    await worker.load(dir, 400);
    assert.equal(worker.running, true);
    await waitFor(() => !worker.running);
    await waitFor(() => threads() <= before);
    const again = await worker.load(dir, 400);
    assert.equal(Engine.fromState(again.engine).rank('我想开发票', 1)[0]?.id, 'invoice');
    assert.equal(worker.running, true);
  } finally {
    await worker.close();
    await cleanup();
  }
});

/** Threads of this process at nice 10. */
async function niceTenThreads(): Promise<number> {
  return (await niceValues('task')).filter((n) => n === 10).length;
}

test('the reload worker drops below the answering thread from its first background reload on', { skip: process.platform !== 'linux' }, async () => {
  const { dir, cleanup } = await tempCopy('shop');
  const worker = new ReloadWorker();
  try {
    const before = await niceTenThreads();
    await worker.load(dir, 400);
    assert.equal(await niceTenThreads(), before, 'the first load runs at the normal priority');
    await worker.load(dir, 400, {}, undefined, true);
    assert.equal(await niceTenThreads(), before + 1, 'a hot reload runs at nice 10');
  } finally {
    await worker.close();
    await cleanup();
  }
});

test('fromEntries trains large bases in a worker thread with the same answers', async () => {
  const entries = Array.from({ length: 50 }, (_, i) => ({
    id: `topic_${i}`,
    questions: Array.from({ length: 40 }, (_, j) => `question about topic${i} number ${j} ${['please', 'help', 'now', 'today'][j % 4]}`),
    answer: `answer ${i}`,
  }));
  const bot = await KnowledgeBot.fromEntries(entries);
  try {
    assert.equal(bot.entryCount, 50);
    const d = await bot.respond(turn('question about topic17 please', 'en'));
    assert.equal(d.entryIds?.[0], 'topic_17');
  } finally {
    await bot.close();
  }
});
