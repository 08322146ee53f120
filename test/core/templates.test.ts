import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isHubError } from '../../src/core/errors.js';
import { Templates, fillVars, localeText } from '../../src/core/templates.js';

async function withFile(yaml: string, fn: (file: string) => void | Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'templates-'));
  try {
    const file = join(dir, 'core.yaml');
    await writeFile(file, yaml);
    await fn(file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('a text using a variable its key does not take fails the load, naming file, line, key and variable', async () => {
  const yaml = ['handover_after_hours:', '  en: "Back after {{opensAt}}."', 'handover:', '  zh: 好的', '  en: "One moment, {{name}}."', ''].join('\n');
  await withFile(yaml, (file) => {
    assert.throws(
      () => Templates.load(file),
      (err: unknown) => {
        assert.ok(isHubError(err));
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.equal(err.message, `${file}:5: handover.en: uses {{name}}, which handover does not provide (it takes no variables)`);
        assert.deepEqual(err.context, { file, line: 5, field: 'handover.en', key: 'handover', variable: 'name' });
        return true;
      },
    );
  });
});

test('a misspelt variable is named together with the ones the key takes', async () => {
  await withFile('handover_after_hours: { zh: "{{ opens_at }} 之后回复", en: "after {{opensAt}}" }\n', (file) => {
    assert.throws(() => Templates.load(file), /core\.yaml:1: handover_after_hours\.zh: uses \{\{opens_at\}\}, which handover_after_hours does not provide \(it takes \{\{opensAt\}\}\)/);
  });
});

test('the shipped core texts load; render fills variables and falls back to English', () => {
  const t = Templates.load(join('config', 'templates', 'core.yaml'));
  assert.ok(t.has('welcome'));
  assert.equal(t.has('nope'), false);
  assert.match(t.render('handover_after_hours', 'en', { opensAt: '09:00' }), /after 09:00\.$/);
  assert.match(t.render('handover_after_hours', 'zh', { opensAt: '09:00' }), /09:00 之后/);
  assert.equal(t.render('welcome', 'fr'), t.render('welcome', 'en'));
  assert.throws(() => t.render('nope', 'en'), /template nope is missing/);
  assert.equal(Templates.load(join('config', 'templates', 'missing.yaml')).has('welcome'), false);
});

test('one renderer: locale, its language, en, zh, then any; a variable without a value renders as nothing', () => {
  const text = { 'zh-TW': '繁', zh: '简', en: 'en', fr: 'fr' };
  assert.equal(localeText(text, 'zh-TW'), '繁');
  assert.equal(localeText(text, 'zh-CN'), '简');
  assert.equal(localeText(text, 'de'), 'en');
  assert.equal(localeText({ ja: 'ja', zh: 'zh' }, 'de'), 'zh');
  assert.equal(localeText({ ja: 'ja' }, 'de'), 'ja');
  assert.equal(localeText({}, 'en'), undefined);
  assert.equal(localeText('one text', 'zh'), 'one text');
  assert.equal(fillVars('after {{ opensAt }}, {{missing}}!', { opensAt: 9 }), 'after 9, !');
});
