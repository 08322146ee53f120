import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { hubConfigSchema } from '../config/schema.js';
import { configPath, loadConfigFile } from '../config/load.js';
import { errorMessage } from '../core/errors.js';

export const SCHEMA_FILE = 'config/schema/hub.schema.json';

/** `switchboard config check [file]`: exit 0 and a summary, or 1 with file:line: field: problem. */
export function configCheck(file = configPath()): number {
  try {
    const cfg = loadConfigFile(file);
    const enabled = Object.entries(cfg.channels as Record<string, { enabled?: boolean } | undefined>)
      .filter(([, c]) => c?.enabled)
      .map(([n]) => n);
    console.log(`${file}: ok (storage ${cfg.storage.url.split(':')[0]}, channels: ${enabled.join(', ') || 'none'})`);
    return 0;
  } catch (err) {
    console.error(errorMessage(err));
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
