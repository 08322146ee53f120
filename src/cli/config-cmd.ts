import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { configPath } from '../config/load.js';
import { hubConfigSchema, loadConfigFile } from '../hub/config-schema.js';
import { errorMessage } from '../core/errors.js';
import { loadKnowledgeDir } from '../knowledge/loader.js';
import { adapterFactories } from '../adapters/registry.js';

export const SCHEMA_FILE = 'config/schema/hub.schema.json';

/**
 * `switchboard config check [file]`: validates hub.yaml and the knowledge directory it names.
 * Exit 0 with a summary (and knowledge warnings), or 1 with file:line: field: problem.
 */
export async function configCheck(file = configPath(), out: Pick<Console, 'log' | 'error'> = console): Promise<number> {
  try {
    const cfg = loadConfigFile(file);
    const enabled = Object.entries(cfg.channels as Record<string, { enabled?: boolean } | undefined>)
      .filter(([, c]) => c?.enabled)
      .map(([n]) => n);
    out.log(`${file}: ok (storage ${cfg.storage.url.split(':')[0]}, channels: ${enabled.join(', ') || 'none'})`);
    const kb = await loadKnowledgeDir(cfg.bot.knowledgeDir, undefined, cfg.bot.smallTalk);
    out.log(`${cfg.bot.knowledgeDir}: ok (${kb.entries.length} entries in ${kb.files.length} files${kb.warnings.length ? `, ${kb.warnings.length} warnings` : ''})`);
    for (const w of kb.warnings) out.log(`warning: ${w}`);
    // Channels that can say whether their servers take this config (email: IMAP and SMTP logins).
    const sections = cfg.channels as Record<string, { enabled: boolean } | undefined>;
    for (const f of adapterFactories) {
      const section = sections[f.channel];
      if (section?.enabled && f.check) for (const line of await f.check(section)) out.log(line);
    }
    return 0;
  } catch (err) {
    out.error(errorMessage(err));
    return 1;
  }
}

/** JSON Schema of hub.yaml so editors complete and check it (yaml-language-server). */
export function configSchemaJson(): string {
  const schema = z.toJSONSchema(hubConfigSchema, { io: 'input', unrepresentable: 'any' });
  return `${JSON.stringify({ ...schema, title: 'Switchboard hub.yaml' }, null, 2)}\n`;
}

export function writeConfigSchema(file = SCHEMA_FILE): number {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, configSchemaJson());
  console.log(`wrote ${file}`);
  return 0;
}
