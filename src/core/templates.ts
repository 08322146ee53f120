import { readFileSync, existsSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';
import { HubError } from './errors.js';

const fileSchema = z.record(z.string(), z.record(z.string(), z.string()));

/** Customer-facing texts per locale, from config/templates/*.yaml, with `{{var}}` placeholders. */
export class Templates {
  constructor(private readonly texts: Record<string, Record<string, string>>) {}

  static load(file: string): Templates {
    if (!existsSync(file)) return new Templates({});
    const parsed = fileSchema.safeParse(parse(readFileSync(file, 'utf8')) ?? {});
    if (!parsed.success) {
      const i = parsed.error.issues[0];
      throw new HubError('CONFIG_INVALID', `${file}: ${i?.path.join('.')}: ${i?.message} (each template maps a locale to a text)`);
    }
    return new Templates(parsed.data);
  }

  has(key: string): boolean {
    return key in this.texts;
  }

  /** The text in `locale`, else English, else any; vars fill `{{name}}`. */
  render(key: string, locale: string, vars: Record<string, string | number> = {}): string {
    const t = this.texts[key];
    const text = t?.[locale] ?? t?.en ?? (t ? Object.values(t)[0] : undefined);
    if (text === undefined) throw new HubError('CONFIG_INVALID', `template ${key} is missing from config/templates`);
    return text.replace(/\{\{\s*(\w+)\s*\}\}/g, (_m, name: string) => String(vars[name] ?? ''));
  }
}
