/**
 * `switchboard email inspect FILE.eml`, run as the real command: a summary, then the result as JSON
 * on the last line; hub.yaml's channels.email settings (own address, attachment limit) used when the
 * file exists, defaults otherwise; a file that cannot be read is named, exit code 2.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';

const run = promisify(execFile);
const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/email/${name}`, import.meta.url));

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function inspect(file: string, configFile: string): Promise<Outcome> {
  const env: NodeJS.ProcessEnv = { ...process.env, SWITCHBOARD_CONFIG: configFile };
  delete env.EMAIL_PASSWORD;
  try {
    const r = await run(process.execPath, ['bin/switchboard.mjs', 'email', 'inspect', file], { env });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function lastLineJson(stdout: string): Record<string, unknown> {
  const lines = stdout.trimEnd().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? '') as Record<string, unknown>;
}

describe('switchboard email inspect', () => {
  let dir = '';
  let noConfig = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sb-email-inspect-'));
    noConfig = join(dir, 'absent.yaml');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('without hub.yaml: defaults; a summary, then the JSON result as the last line', async () => {
    const r = await inspect(fixture('gmail-reply.eml'), noConfig);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, /^from: +Zoë Müller <zoe\.muller@gmail\.com>$/m);
    assert.match(r.stdout, /^answer: +yes$/m);
    assert.match(r.stdout, /settings: defaults/);
    assert.deepEqual(lastLineJson(r.stdout), {
      from: 'zoe.muller@gmail.com',
      subject: 'Re: Your question about order 4711 [#K7Q2M9XA]',
      text: 'Hi,\n\nthe tracking number still shows "label created". Can you check with the courier?\nOrder 4711, placed on 2 January.\n\nThanks,\nZoë',
      attachments: [],
      // References (oldest first), then In-Reply-To (already among them), then the mail's own id.
      threadKeys: ['<sb.PHJvb3RAZXhhbXBsZS5jb20-.42@example.com>', '<sb.PHJvb3RAZXhhbXBsZS5jb20-.43@example.com>', '<CAHx1Qp5kz7J4uYf0n+Gq2QhWq=8dFv3w@mail.gmail.com>'],
      answer: true,
      skipReason: null,
    });
  });

  it('a mail not to be answered says why', async () => {
    const r = await inspect(fixture('bounce-mailer-daemon.eml'), noConfig);
    assert.equal(r.code, 0, r.stderr);
    const j = lastLineJson(r.stdout);
    assert.equal(j.answer, false);
    assert.equal(j.skipReason, 'bounce (multipart/report; report-type=delivery-status)');
    assert.match(r.stdout, /^answer: +no, bounce/m);
  });

  it("with hub.yaml: channels.email's from.address is our own address, maxAttachmentBytes the limit (no secret needed)", async () => {
    const hubYaml = join(dir, 'hub.yaml');
    await writeFile(
      hubYaml,
      [
        'server:',
        '  port: 3000',
        'channels:',
        '  email:',
        '    enabled: true',
        '    imap:',
        '      host: imap.example.com',
        '      user: support',
        '      password: ${EMAIL_PASSWORD}',
        '    smtp: { host: smtp.example.com }',
        '    from: { address: Zoe.Muller@gmail.com }',
        '    maxAttachmentBytes: 40',
        '',
      ].join('\n'),
    );
    const own = await inspect(fixture('gmail-reply.eml'), hubYaml);
    assert.equal(own.code, 0, own.stderr);
    assert.match(own.stdout, new RegExp(`settings: ${hubYaml.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.deepEqual([lastLineJson(own.stdout).answer, lastLineJson(own.stdout).skipReason], [false, 'our own address']);

    const outlook = await inspect(fixture('outlook-reply.eml'), hubYaml);
    assert.equal(outlook.code, 0, outlook.stderr);
    assert.deepEqual(lastLineJson(outlook.stdout).attachments, [{ name: 'PO 5521.pdf', mimeType: 'application/pdf', size: 48, kept: false }]);
    assert.match(outlook.stdout, /^attachment: +PO 5521\.pdf \(application\/pdf, 48 B\): over 40 B, listed only$/m);

    const defaults = await inspect(fixture('outlook-reply.eml'), noConfig);
    assert.equal((lastLineJson(defaults.stdout).attachments as { kept: boolean }[])[0]?.kept, true);
  });

  it('an invalid channels.email setting is named (exit 1)', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'channels:\n  email:\n    maxAttachmentBytes: -5\n');
    const r = await inspect(fixture('gmail-reply.eml'), bad);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /bad\.yaml:3: channels\.email\.maxAttachmentBytes/);
  });

  it('a missing or unreadable file: one line naming it, exit code 2', async () => {
    const missing = join(dir, 'nope.eml');
    const r = await inspect(missing, noConfig);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trimEnd().split('\n').length, 1);
    assert.ok(r.stderr.startsWith(`${missing}: `), r.stderr);
    const asDir = await inspect(dir, noConfig);
    assert.equal(asDir.code, 2);
    assert.ok(asDir.stderr.startsWith(`${dir}: `), asDir.stderr);
  });
});
