/**
 * `switchboard kb import`: an FAQ CSV becomes a knowledge file the bot loads; entries without an
 * answer wait as `status: pending`; nothing is written that would break the knowledge directory.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { kbCommand } from '../../src/cli/kb-cmd.js';
import { KnowledgeBot } from '../../src/knowledge/bot.js';
import { botConfigSchema } from '../../src/knowledge/config.js';
import { loadKnowledgeDir } from '../../src/knowledge/loader.js';
import { turn } from './helpers.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kb-import-'));
  await writeFile(
    join(dir, 'faq.csv'),
    'text,category\nwhere is my card,card_arrival\n"my card, has it shipped?",card_arrival\nhow long does card delivery take,card_arrival\nreset my pin,change_pin\nI forgot my pin,change_pin\n',
  );
  await writeFile(join(dir, 'answers.csv'), 'category,answer,locale\ncard_arrival,Cards arrive within 5 working days.,en\ncard_arrival,卡片 5 个工作日内送达。,zh\nold_topic,Gone.,en\n');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await kbCommand(argv, { out: { write: (s: string) => out.push(s) }, err: { write: (s: string) => err.push(s) } });
  return { code, out: out.join(''), err: err.join('') };
}

test('kb import writes a knowledge file the bot answers from; unanswered entries are pending', async () => {
  const kbDir = join(dir, 'knowledge');
  const r = await run(['import', '--csv', join(dir, 'faq.csv'), '--answers-csv', join(dir, 'answers.csv'), '--out', join(kbDir, 'faq.yaml')]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /wrote .*faq\.yaml: 2 entries, 5 questions/);
  assert.match(r.out, /1 entry has no answer and is `status: pending`.*: change_pin/);
  assert.match(r.out, /warning: the answers file has categories no question has \(not imported\): old_topic/);

  const kb = await loadKnowledgeDir(kbDir);
  assert.deepEqual(
    kb.entries.map((e) => e.id),
    ['card_arrival'],
    'the pending entry is not loaded',
  );
  assert.deepEqual(kb.entries[0]?.answer, { en: 'Cards arrive within 5 working days.', zh: '卡片 5 个工作日内送达。' });
  assert.match(await readFile(join(kbDir, 'faq.yaml'), 'utf8'), /- id: change_pin[\s\S]*status: pending/);

  const bot = await KnowledgeBot.create({ dir: kbDir, bot: botConfigSchema.parse({}) });
  try {
    const d = await bot.respond(turn('has my card shipped yet'));
    assert.equal(d.kind, 'answer');
    assert.equal(d.text, 'Cards arrive within 5 working days.');
  } finally {
    await bot.close();
  }
});

test('kb import refuses to overwrite without --force, and ids another file defines', async () => {
  const kbDir = join(dir, 'refuse');
  const out = join(kbDir, 'faq.yaml');
  const args = ['import', '--csv', join(dir, 'faq.csv'), '--answers-csv', join(dir, 'answers.csv')];
  assert.equal((await run([...args, '--out', out])).code, 0);

  const again = await run([...args, '--out', out]);
  assert.equal(again.code, 2);
  assert.match(again.err, /faq\.yaml already exists; pass --force to replace it/);
  assert.equal((await run([...args, '--out', out, '--force'])).code, 0, 'replacing the same file is no clash');

  const clash = await run([...args, '--out', join(kbDir, 'copy.yaml')]);
  assert.equal(clash.code, 2);
  assert.match(clash.err, /not written: 2 id\(s\) clash .*"card_arrival" is already defined at .*faq\.yaml:\d+; "change_pin" is already defined/);
  assert.equal(existsSync(join(kbDir, 'copy.yaml')), false);

  // Pending entries clash too: they load as soon as someone writes their answer.
  const pendingOnly = await run(['import', '--csv', join(dir, 'faq.csv'), '--out', join(dir, 'pending', 'a.yaml')]);
  assert.equal(pendingOnly.code, 0, pendingOnly.err);
  const again2 = await run(['import', '--csv', join(dir, 'faq.csv'), '--out', join(dir, 'pending', 'b.yaml')]);
  assert.equal(again2.code, 2);
  assert.match(again2.err, /"change_pin" is already defined at .*a\.yaml/);

  // A file the bot would not load is refused; an unrelated broken YAML file is named, not fatal.
  const txt = await run([...args, '--out', join(dir, 'other', 'faq.txt')]);
  assert.equal(txt.code, 2);
  assert.match(txt.err, /the bot loads knowledge files named \*\.yaml/);
  await mkdir(join(dir, 'other'), { recursive: true });
  await writeFile(join(dir, 'other', 'docker-compose.yml'), 'services:\n  web: { image: x }\n');
  const beside = await run([...args, '--out', join(dir, 'other', 'faq.yaml')]);
  assert.equal(beside.code, 0, beside.err);
  assert.match(beside.out, /warning: ids not checked against .*docker-compose\.yml/);
});

test('kb import names the file and the missing column of a CSV without the right header', async () => {
  await writeFile(join(dir, 'no-header.csv'), 'where is my card,card_arrival\n');
  const bad = await run(['import', '--csv', join(dir, 'no-header.csv'), '--out', join(dir, 'x', 'x.yaml')]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--csv .*no-header\.csv: needs a header row with the column\(s\) `text`, `category`; its first row is `where is my card,card_arrival`/);

  const badAnswers = await run(['import', '--csv', join(dir, 'faq.csv'), '--answers-csv', join(dir, 'faq.csv'), '--out', join(dir, 'x', 'x.yaml')]);
  assert.equal(badAnswers.code, 2);
  assert.match(badAnswers.err, /--answers-csv .*faq\.csv: needs a header row with the column\(s\) `answer`/);

  await writeFile(join(dir, 'broken-answers.csv'), 'category,answer\ncard_arrival,"never closed\n');
  const broken = await run(['import', '--csv', join(dir, 'faq.csv'), '--answers-csv', join(dir, 'broken-answers.csv'), '--out', join(dir, 'x', 'x.yaml')]);
  assert.equal(broken.code, 2);
  assert.match(broken.err, /^--answers-csv .*broken-answers\.csv: .*unterminated/, 'the broken file is the one named');

  const missing = await run(['import', '--csv', join(dir, 'nope.csv')]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /--csv .*nope\.csv: ENOENT/);
  assert.equal(existsSync(join(dir, 'x')), false, 'nothing is written');

  assert.equal((await run(['export'])).code, 2);
});
