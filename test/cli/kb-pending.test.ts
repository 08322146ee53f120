/**
 * `switchboard kb pending`: answers agents proposed wait in the database; an admin lists them,
 * approves one into learned.yaml (existing entries and comments kept, the bot answers from it after
 * hot reload) or rejects it; mistakes are named.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { kbCommand } from '../../src/cli/kb-cmd.js';
import { Storage } from '../../src/core/storage/storage.js';
import type { ProposedAnswer } from '../../src/core/storage/pending-answers.js';
import { KnowledgeBot } from '../../src/knowledge/bot.js';
import { botConfigSchema } from '../../src/knowledge/config.js';
import { parseKnowledgeFile } from '../../src/knowledge/loader.js';
import { DIALECTS, makeDb, type TestDb } from '../helpers/env.js';
import { turn, waitFor } from '../knowledge/helpers.js';

const run = promisify(execFile);

const LEARNED = `# Reviewed by the support lead every Friday.
entries:
  - id: opening_hours # kept as written
    questions: { en: [when are you open] }
    answer: { en: We are open 9 to 6. }
  - id: learned-old-1
    status: pending
    questions: { en: [an old pending question] }
    answer: { en: an old pending answer }
`;

const FAQ = `entries:
  - id: learned-3
    questions: [how do I change my delivery address]
    answer: Change it under Orders > Address.
`;

function proposal(n: number, question: string, answer: string, more: Partial<ProposedAnswer> = {}): ProposedAnswer {
  return { key: `message:m${n}`, question, answer, locale: 'en', conversationId: `conv-${n}`, proposedBy: 'slack:UDANA', proposedByName: 'Dana', ...more };
}

for (const dialect of DIALECTS) {
  describe(`kb pending (${dialect})`, () => {
    let dir: string;
    let kdir: string;
    let hubYaml: string;
    let tdb: TestDb;
    let storage: Storage;
    let bot: KnowledgeBot;
    const ids: number[] = [];

    async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
      const out: string[] = [];
      const err: string[] = [];
      const code = await kbCommand(['pending', ...argv], { out: { write: (s: string) => out.push(s) }, err: { write: (s: string) => err.push(s) } }, { configFile: hubYaml });
      return { code, out: out.join(''), err: err.join('') };
    }

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'kb-pending-'));
      kdir = join(dir, 'knowledge');
      await mkdir(kdir);
      await writeFile(join(kdir, 'learned.yaml'), LEARNED);
      await writeFile(join(kdir, 'faq.yaml'), FAQ);
      tdb = await makeDb(dialect);
      hubYaml = join(dir, 'hub.yaml');
      await writeFile(hubYaml, `storage:\n  url: ${tdb.url}\nbot:\n  knowledgeDir: ${kdir}\n`);
      storage = await Storage.open(tdb.url);
      // What the desk's "Save answer" writes through DeskContext.proposeAnswer.
      for (const [n, q, a] of [
        [1, 'How do I reset my password?', 'Use the "Forgot password" link on the login page.'],
        [2, 'can I pay with bitcoin', 'No.'],
        [3, 'do you ship to Norway', 'Yes, within 5 days.\nCustoms fees are on us.'],
        [4, 'is there a student discount', 'Yes: 10% with a student card.'],
        [5, 'can I pick up my order in store', 'Yes, at any of our shops.'],
      ] as const) {
        ids.push((await storage.pendingAnswers.propose(proposal(n, q, a, n === 3 ? { proposedBy: 'slack:UEVE', proposedByName: undefined } : {}))).answer.id);
      }
      bot = await KnowledgeBot.create({ dir: kdir, bot: botConfigSchema.parse({ reloadDebounceMs: 50 }), watch: true });
    });
    after(async () => {
      await bot.close();
      await storage.close();
      await tdb.drop();
      await rm(dir, { recursive: true, force: true });
    });

    it('lists the pending answers: id, question, answer, who, when', async () => {
      const r = await cli();
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, new RegExp(`^#${ids[0]}  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC  by Dana \\(slack:UDANA\\)  \\[en\\]  conversation conv-1$`, 'm'));
      assert.match(r.out, /^ {4}Q: How do I reset my password\?$/m);
      assert.match(r.out, /^ {4}A: Use the "Forgot password" link on the login page\.$/m);
      assert.match(r.out, /by slack:UEVE {2}\[en\]/);
      assert.match(r.out, /A: Yes, within 5 days\.\n {7}Customs fees are on us\./, 'a multi-line answer stays readable');
      assert.match(r.out, /5 pending answers\. `--approve ID` writes one into .*learned\.yaml/);
    });

    it('--approve writes the entry into learned.yaml (comments and entries kept), marks it approved, and the bot answers from it after hot reload', async () => {
      const id = ids[0]!;
      const before = bot.entryCount;
      assert.equal((await bot.respond(turn('How do I reset my password?'))).entryIds?.includes(`learned-${id}`) ?? false, false);
      const r = await cli('--approve', String(id), '--by', 'alice');
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, new RegExp(`^approved #${id} as learned-${id} in .*learned\\.yaml; a running hub picks it up`));

      const source = await readFile(join(kdir, 'learned.yaml'), 'utf8');
      assert.ok(source.startsWith('# Reviewed by the support lead every Friday.\n'), source);
      assert.match(source, /- id: opening_hours # kept as written/);
      assert.match(source, /id: learned-old-1\n\s+status: pending/);
      const entries = parseKnowledgeFile('learned.yaml', source);
      const e = entries.find((x) => x.id === `learned-${id}`);
      assert.deepEqual({ questions: e?.questions, answer: e?.answer, tags: e?.tags, status: e?.status }, {
        questions: { en: ['How do I reset my password?'] },
        answer: { en: 'Use the "Forgot password" link on the login page.' },
        tags: ['learned'],
        status: 'approved',
      });
      const raw = (parse(source) as { entries: { id: string; learnedFrom?: Record<string, unknown> }[] }).entries.find((x) => x.id === `learned-${id}`);
      assert.equal(raw?.learnedFrom?.approvedBy, 'alice');
      assert.equal(raw?.learnedFrom?.proposedBy, 'Dana (slack:UDANA)');
      assert.deepEqual((await readdir(kdir)).sort(), ['faq.yaml', 'learned.yaml'], 'no temp or lock file left behind');

      const row = await storage.pendingAnswers.get(id);
      assert.deepEqual({ status: row?.status, by: row?.reviewedBy, entry: row?.entryId }, { status: 'approved', by: 'alice', entry: `learned-${id}` });
      assert.ok(row?.reviewedAt);

      await waitFor(() => bot.entryCount === before + 1, 10_000);
      assert.equal(bot.lastError, undefined);
      const d = await bot.respond(turn('How do I reset my password?'));
      assert.equal(d.kind, 'answer', JSON.stringify(d));
      assert.equal(d.text, 'Use the "Forgot password" link on the login page.');
      assert.equal(d.entryIds?.[0], `learned-${id}`);
    });

    it('errors name what was wrong: already approved, unknown id, not a number, both flags', async () => {
      const id = ids[0]!;
      const again = await cli('--approve', String(id));
      assert.equal(again.code, 2);
      assert.match(again.err, new RegExp(`^cannot approve answer #${id}: it is already approved \\(as learned-${id}, by alice on \\d{4}-`));
      const rejectApproved = await cli('--reject', String(id));
      assert.match(rejectApproved.err, new RegExp(`cannot reject answer #${id}: it is already approved`));
      const unknown = await cli('--approve', '999999');
      assert.equal(unknown.code, 2);
      assert.match(unknown.err, /^no answer #999999 \(`npx switchboard kb pending` lists the pending ones\)/);
      const word = await cli('--approve', 'abc');
      assert.equal(word.code, 2);
      assert.match(word.err, /^--approve abc: expected the number of an answer/);
      const both = await cli('--approve', '1', '--reject', '2');
      assert.match(both.err, /--approve and --reject together/);
      const flag = await cli('--aprove', '1');
      assert.equal(flag.code, 2);
      assert.match(flag.err, /aprove/);
      assert.equal((parse(await readFile(join(kdir, 'learned.yaml'), 'utf8')) as { entries: unknown[] }).entries.length, 3, 'nothing written');
    });

    it('--reject marks it rejected (once) and writes nothing; a rejected answer cannot be approved', async () => {
      const id = ids[1]!;
      const before = await readFile(join(kdir, 'learned.yaml'), 'utf8');
      const r = await cli('--reject', `#${id}`, '--by', 'bob');
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, `rejected #${id}\n`);
      const row = await storage.pendingAnswers.get(id);
      assert.deepEqual({ status: row?.status, by: row?.reviewedBy, entry: row?.entryId }, { status: 'rejected', by: 'bob', entry: null });
      assert.match((await cli('--reject', String(id))).err, new RegExp(`cannot reject answer #${id}: it was already rejected \\(by bob on `));
      assert.match((await cli('--approve', String(id))).err, new RegExp(`cannot approve answer #${id}: it was already rejected`));
      assert.equal(await readFile(join(kdir, 'learned.yaml'), 'utf8'), before);
      const list = await cli();
      assert.doesNotMatch(list.out, /bitcoin/);
      assert.doesNotMatch(list.out, /reset my password/);
      assert.match(list.out, /3 pending answers/);
    });

    it('an id another knowledge file already defines gets the next free one; two approvals at once both land', async () => {
      const [third, fourth] = [ids[2]!, ids[3]!];
      // faq.yaml defines learned-3 (in this suite's fresh database answer #3 is the third proposal).
      assert.equal(third, 3);
      const [a, b] = await Promise.all([cli('--approve', String(third)), cli('--approve', String(fourth))]);
      assert.equal(a.code, 0, a.err);
      assert.equal(b.code, 0, b.err);
      assert.match(a.out, /as learned-3-2 in/);
      const entries = parseKnowledgeFile('learned.yaml', await readFile(join(kdir, 'learned.yaml'), 'utf8'));
      assert.deepEqual(entries.map((e) => e.id).sort(), ['learned-1', 'learned-3-2', `learned-${fourth}`, 'opening_hours']);
      assert.deepEqual(entries.find((e) => e.id === 'learned-3-2')?.answer, { en: 'Yes, within 5 days.\nCustoms fees are on us.' });
      assert.equal((await storage.pendingAnswers.get(third))?.entryId, 'learned-3-2');
    });

    it('a learned.yaml the bot would not load is not overwritten', async () => {
      const file = join(kdir, 'learned.yaml');
      const good = await readFile(file, 'utf8');
      const broken = `${good}  - id: no_answer\n    questions: [x]\n`;
      await writeFile(file, broken);
      try {
        const r = await cli('--approve', String(ids[4]));
        assert.equal(r.code, 2);
        assert.match(r.err, /learned\.yaml:\d+: entries\[\d+\]\.answer: required field is missing\n\(fix .*learned\.yaml first: nothing was written\)/);
        assert.equal(await readFile(file, 'utf8'), broken);
        assert.equal((await storage.pendingAnswers.get(ids[4]!))?.status, 'pending');
      } finally {
        await writeFile(file, good);
      }
    });

    it('runs as the `switchboard` command, reading hub.yaml from SWITCHBOARD_CONFIG', async () => {
      const env: NodeJS.ProcessEnv = { ...process.env, SWITCHBOARD_CONFIG: hubYaml };
      delete env.DATABASE_URL;
      const list = await run(process.execPath, ['bin/switchboard.mjs', 'kb', 'pending'], { env });
      assert.match(list.stdout, new RegExp(`^#${ids[4]}  .*by Dana \\(slack:UDANA\\)`, 'm'));
      assert.match(list.stdout, /Q: can I pick up my order in store/);
      assert.match(list.stdout, /^1 pending answer\./m);
      const approved = await run(process.execPath, ['bin/switchboard.mjs', 'kb', 'pending', '--approve', String(ids[4]), '--by', 'carol'], { env });
      assert.match(approved.stdout, new RegExp(`approved #${ids[4]} as learned-${ids[4]}`));
      assert.equal((await storage.pendingAnswers.get(ids[4]!))?.reviewedBy, 'carol');
      assert.ok(!existsSync(join(kdir, '.learned.yaml.lock')));
      assert.equal((await cli()).out, 'no pending answers\n');
    });
  });
}
