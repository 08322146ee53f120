/**
 * `switchboard email inspect FILE.eml`: how the email channel reads one mail, without a hub: the
 * same `parseMail` as the adapter, with the hub's `channels.email` settings (maxAttachmentBytes, and
 * from.address as our own address) when hub.yaml exists (`SWITCHBOARD_CONFIG` or config/hub.yaml),
 * the defaults otherwise. Prints a short summary, then as its last line the result as JSON:
 * `{"from","subject","text","attachments","threadKeys","answer","skipReason"}`.
 * A file that cannot be read: one line naming it, exit code 2.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { emailConfigSchema } from '../adapters/email/config.js';
import { parseMail } from '../adapters/email/parse.js';
import type { ParsedMail } from '../adapters/email/types.js';
import { configPath, createConfigLoader } from '../config/load.js';
import { errorMessage } from '../core/errors.js';
import type { CliIo } from './input.js';

export const EMAIL_USAGE = 'usage: switchboard email inspect FILE.eml';

/*
 * Only the fields inspect needs are read (and `enabled`, so that an unset ${ENV} in a switched-off
 * section is ignored as the hub ignores it). The rest of hub.yaml is not validated here (`config
 * check` does that): the IMAP password or another channel's token need not be set to inspect a mail.
 */
const emailPart = emailConfigSchema.pick({ enabled: true, from: true, maxAttachmentBytes: true });
const inspectConfig = createConfigLoader(z.object({ channels: z.object({ email: z.object(emailPart.shape).optional() }).default({}) }));

export interface InspectOptions {
  /** hub.yaml to read (default: SWITCHBOARD_CONFIG or config/hub.yaml); absent file: defaults. */
  configFile?: string;
}

export async function emailCommand(argv: string[], io: CliIo = { out: process.stdout, err: process.stderr }, opts: InspectOptions = {}): Promise<number> {
  const [sub, file, ...extra] = argv;
  if (sub !== 'inspect' || file === undefined || extra.length > 0) {
    io.err.write(`${sub === undefined || sub === 'inspect' ? '' : `unknown email command: ${sub}\n`}${EMAIL_USAGE}\n`);
    return 2;
  }
  let source: Buffer;
  try {
    source = await readFile(file);
  } catch (err) {
    io.err.write(`${file}: cannot read the mail (${errorMessage(err)})\n`);
    return 2;
  }
  const cfgFile = opts.configFile ?? configPath();
  let settings = emailConfigSchema.parse({});
  let from = 'defaults (no hub.yaml)';
  if (existsSync(cfgFile)) {
    try {
      settings = emailConfigSchema.parse(inspectConfig.loadConfigFile(cfgFile).channels.email ?? {});
      from = cfgFile;
    } catch (err) {
      io.err.write(`${errorMessage(err)}\n`);
      return 1;
    }
  }
  const own = settings.from.address.trim().toLowerCase();
  const mail = await parseMail(source, { maxAttachmentBytes: settings.maxAttachmentBytes, ownAddresses: own ? [own] : [] });
  io.out.write(`${summary(file, mail, from, settings.maxAttachmentBytes)}\n${JSON.stringify(result(mail))}\n`);
  return 0;
}

/** The last line: what the adapter would hand on, in short. */
function result(mail: ParsedMail) {
  const threadKeys = [...new Set([...mail.references, mail.inReplyTo, mail.messageId].filter((x): x is string => x !== undefined))];
  return {
    from: mail.from?.address ?? null,
    subject: mail.subject,
    text: mail.text,
    attachments: mail.attachments,
    threadKeys,
    answer: mail.skipReason === undefined,
    skipReason: mail.skipReason ?? null,
  };
}

function summary(file: string, mail: ParsedMail, settingsFrom: string, maxBytes: number): string {
  const lines = [`${file} (settings: ${settingsFrom})`];
  lines.push(`from:        ${mail.from ? (mail.from.name ? `${mail.from.name} <${mail.from.address}>` : mail.from.address) : '(none)'}${mail.replyTo ? `, replies to ${mail.replyTo}` : ''}`);
  lines.push(`subject:     ${mail.subject || '(none)'}${mail.caseToken ? ` (thread token ${mail.caseToken})` : ''}`);
  if (mail.date !== undefined) lines.push(`date:        ${new Date(mail.date).toISOString()}`);
  lines.push(`message-id:  ${mail.messageId ?? '(none)'}${mail.inReplyTo ? `, in reply to ${mail.inReplyTo}` : ''}${mail.references.length ? `, ${mail.references.length} reference(s)` : ''}`);
  for (const a of mail.attachments) {
    lines.push(`attachment:  ${a.name} (${a.mimeType}, ${size(a.size)})${a.kept ? '' : `: over ${size(maxBytes)}, listed only`}`);
  }
  lines.push(`answer:      ${mail.skipReason === undefined ? 'yes' : `no, ${mail.skipReason}`}`);
  for (const w of mail.warnings) lines.push(`warning:     ${w}`);
  const shown = mail.text.split('\n');
  lines.push(`text (${mail.text.length} of ${mail.fullText.length} characters, without quotes and signature):`);
  lines.push(...shown.slice(0, 12).map((l) => (l ? `  ${l}` : '')));
  if (shown.length > 12) lines.push(`  … ${shown.length - 12} more lines`);
  return lines.join('\n');
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
