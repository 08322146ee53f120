import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configSchemaJson } from '../../src/cli/config-cmd.js';

/**
 * Every option of hub.yaml is documented, and every documented option exists.
 *
 * The convention: an option is documented when its full dotted path appears in backquotes
 * (`channels.slack.apiUrl`, `queues.lockMs`) in the reference (docs/configuration.md) or in the
 * channel guide (docs/channels.md). A row of a reference table (`| \`key\` | default | meaning |`)
 * whose key has a default in the schema must show that default, in backquotes.
 */
const REFERENCE = 'docs/configuration.md';
const DOCS = [REFERENCE, 'docs/channels.md'];

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
  default?: unknown;
}

interface Option {
  path: string;
  default?: unknown;
}

/** Every option of the schema: leaves (documented one by one) and the sections above them. */
function options(root: JsonSchema): { leaves: Option[]; sections: Set<string> } {
  const leaves: Option[] = [];
  const sections = new Set<string>();
  const resolve = (n: JsonSchema): JsonSchema => {
    if (!n.$ref) return n;
    const name = /^#\/\$defs\/(.+)$/.exec(n.$ref)?.[1];
    const target = name ? root.$defs?.[name] : undefined;
    assert.ok(target, `unresolvable $ref ${n.$ref}`);
    return resolve(target);
  };
  const walk = (raw: JsonSchema, path: string): void => {
    const n = resolve(raw);
    // Optional and union-typed sections: the keys of every variant.
    const variants = [n, ...(n.anyOf ?? []), ...(n.oneOf ?? []), ...(n.allOf ?? [])].map(resolve);
    const props = variants.flatMap((v) => Object.entries(v.properties ?? {}));
    const items = variants.map((v) => (v.items ? resolve(v.items) : undefined)).find((i) => i?.properties);
    if (props.length) {
      if (path) sections.add(path);
      const seen = new Set<string>();
      for (const [k, v] of props) {
        if (seen.has(k)) continue;
        seen.add(k);
        walk(v, path ? `${path}.${k}` : k);
      }
    } else if (items) {
      sections.add(path);
      walk(items, `${path}[]`);
    } else {
      leaves.push({ path, ...('default' in n ? { default: n.default } : {}) });
    }
  };
  walk(root, '');
  return { leaves, sections };
}

const KEY = /^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\])*$/;

/** Backquoted dotted paths in a Markdown text that start with a top-level section of hub.yaml. */
function documentedKeys(text: string, topLevel: Set<string>): Set<string> {
  const keys = new Set<string>();
  for (const m of text.matchAll(/`([^`\n]+)`/g)) {
    const k = m[1] ?? '';
    if (KEY.test(k) && topLevel.has(k.split(/[.[]/)[0] ?? '')) keys.add(k);
  }
  return keys;
}

/** Reference-table rows: `| \`key\` | default | meaning |` -> key -> the default cell. */
function tableDefaults(text: string): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\|\s*`([^`]+)`\s*\|([^|]*)\|/.exec(line);
    if (m?.[1] && KEY.test(m[1])) rows.set(m[1], (m[2] ?? '').trim());
  }
  return rows;
}

/** How a default is written in the reference: `value` (strings bare, everything else as JSON). */
function shown(value: unknown): string {
  return `\`${typeof value === 'string' && value !== '' ? value : JSON.stringify(value)}\``;
}

const schema = JSON.parse(configSchemaJson()) as JsonSchema;
const { leaves, sections } = options(schema);
const topLevel = new Set(Object.keys(schema.properties ?? {}));
const docs = DOCS.map((file) => ({ file, keys: documentedKeys(readFileSync(file, 'utf8'), topLevel) }));

describe('configuration docs', () => {
  it('the schema walk finds the options (sanity)', () => {
    const paths = leaves.map((l) => l.path);
    for (const p of ['logLevel', 'queues.lockMs', 'channels.slack.apiUrl', 'channels.webchat.rateLimit.burst', 'llm.apiKey']) {
      assert.ok(paths.includes(p), `${p} not found by the walk`);
    }
    assert.ok(sections.has('channels.slack.businessHours'));
    assert.deepEqual([...documentedKeys('`queues.lockMs` `hub.yaml` `bot.answered` `x` `server`', new Set(['queues', 'server']))], ['queues.lockMs', 'server']);
  });

  it(`every option of hub.yaml is documented (${REFERENCE} or docs/channels.md)`, () => {
    const documented = new Set(docs.flatMap((d) => [...d.keys]));
    const missing = leaves.map((l) => l.path).filter((p) => !documented.has(p));
    assert.deepEqual(
      missing,
      [],
      `${missing.length} option(s) of hub.yaml are not documented. Add a row \`| \`key\` | default | what it does |\` to the right table of ${REFERENCE} (a channel's option may instead be named in backquotes in its section of docs/channels.md):\n  ${missing.join('\n  ')}`,
    );
  });

  it('every documented option exists in hub.yaml', () => {
    const known = new Set([...leaves.map((l) => l.path), ...sections]);
    const stale = docs.flatMap((d) => [...d.keys].filter((k) => !known.has(k)).map((k) => `${d.file}: ${k}`));
    assert.deepEqual(stale, [], `documented option(s) that hub.yaml does not have (renamed or removed? fix or remove them):\n  ${stale.join('\n  ')}`);
  });

  it(`the defaults in ${REFERENCE} are the schema's`, () => {
    const rows = tableDefaults(readFileSync(REFERENCE, 'utf8'));
    const wrong = leaves.flatMap((l) => {
      const cell = rows.get(l.path);
      if (cell === undefined || !('default' in l)) return [];
      const want = shown(l.default);
      // Long lists (keywords, phrases) may be described in words instead.
      if (Array.isArray(l.default) && l.default.length > 5 && !cell.startsWith('`')) return [];
      return cell === want ? [] : [`${l.path}: the table says ${cell || '(nothing)'}, the schema's default is ${want}`];
    });
    assert.deepEqual(wrong, [], `defaults in ${REFERENCE} that differ from the schema:\n  ${wrong.join('\n  ')}`);
  });
});
