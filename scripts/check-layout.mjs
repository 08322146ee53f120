#!/usr/bin/env node
// `npm run check:layout`: fails listing every file under src/ over 400 lines (split it by concern;
// Telegram's index/adapter/config/api-errors/mapper is the model). The browser widget may stay one file.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAX_LINES = 400;
// The browser widget (its script and its stylesheet) may stay one file each.
const EXEMPT = new Set(['src/adapters/webchat/public/widget.js', 'src/adapters/webchat/public/widget.css']);

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..');

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.isFile() ? [p] : [];
  });
}

function lineCount(text) {
  if (text === '') return 0;
  const newlines = text.split('\n').length - 1;
  return text.endsWith('\n') ? newlines : newlines + 1;
}

const over = walk(join(root, 'src'))
  .map((file) => relative(root, file).split(sep).join('/'))
  .filter((file) => !EXEMPT.has(file))
  .map((file) => ({ file, lines: lineCount(readFileSync(join(root, file), 'utf8')) }))
  .filter((f) => f.lines > MAX_LINES)
  .sort((a, b) => b.lines - a.lines || a.file.localeCompare(b.file));

if (over.length > 0) {
  console.error(`${over.length} file(s) in src/ over ${MAX_LINES} lines (split by concern):`);
  for (const f of over) console.error(`  ${f.file}: ${f.lines} lines`);
  process.exit(1);
}
console.log(`layout ok: no file in src/ over ${MAX_LINES} lines`);
