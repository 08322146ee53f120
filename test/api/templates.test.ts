/**
 * `MessageTemplates` (src/api/templates.ts): the business's templates for `POST /api/messages`,
 * from config/templates/messages.yaml. The shipped example file, load errors naming file, line and
 * key, and render errors naming the request field.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HubError } from '../../src/core/errors.js';
import { MessageTemplates, TemplateRequestError } from '../../src/api/templates.js';
import { tempDir } from '../helpers/temp-dir.js';

const SHIPPED = join('config', 'templates', 'messages.yaml');

/** Vars for each shipped template: exactly the placeholders it uses. */
const SHIPPED_VARS: Record<string, Record<string, string | number>> = {
  renewal_reminder: { name: 'Ann', plan: 'Pro', date: '2027-03-01', amount: '$19.00' },
  payment_failed: { name: 'Ann', invoice: 'INV-2041', due_date: '2027-03-05', link: 'https://shop.example.com/billing' },
  order_shipped: { name: 'Ann', order_id: 'SO-88231', tracking_url: 'https://track.example.com/SO-88231' },
};

const CJK = /[\u4e00-\u9fff]/;

const dir = mkdtempSync(join(tmpdir(), 'sb-templates-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
/** Writes `lines` to a fresh file in the temp dir and returns its path. */
function file(...lines: string[]): string {
  const f = join(dir, `messages-${++n}.yaml`);
  writeFileSync(f, `${lines.join('\n')}\n`);
  return f;
}

/** The HubError `fn` throws (fails the test when it throws nothing or something else). */
function thrown(fn: () => unknown): HubError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof HubError, `expected a HubError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected an error');
}

describe('the shipped config/templates/messages.yaml', () => {
  const templates = MessageTemplates.load(SHIPPED);

  it('loads with the templates the docs name', () => {
    assert.deepEqual(templates.names().sort(), Object.keys(SHIPPED_VARS).sort());
  });

  for (const [name, vars] of Object.entries(SHIPPED_VARS)) {
    it(`${name} renders in en and zh with every var filled`, () => {
      const en = templates.render(name, 'en', vars);
      const zh = templates.render(name, 'zh', vars);
      for (const text of [en, zh]) {
        assert.doesNotMatch(text, /\{\{|\}\}/, `a placeholder was left in: ${text}`);
        for (const value of Object.values(vars)) assert.ok(text.includes(String(value)), `${JSON.stringify(value)} missing from: ${text}`);
      }
      assert.doesNotMatch(en, CJK);
      assert.match(zh, CJK);
      // A regional locale uses its language; an unknown one falls back to English.
      assert.equal(templates.render(name, 'zh-CN', vars), zh);
      assert.equal(templates.render(name, 'fr', vars), en);
    });
  }

  it('renders the exact English renewal text', () => {
    assert.equal(
      templates.render('renewal_reminder', 'en-US', SHIPPED_VARS.renewal_reminder ?? {}),
      'Hi Ann, your Pro plan renews on 2027-03-01 for $19.00. Reply here if you have any questions.',
    );
  });
});

describe('MessageTemplates.load', () => {
  it('a missing file means no templates, and rendering says which file has none', () => {
    const missing = join(dir, 'no-such-dir', 'messages.yaml');
    const templates = MessageTemplates.load(missing);
    assert.deepEqual(templates.names(), []);
    const err = thrown(() => templates.render('renewal_reminder', 'en', {}));
    assert.ok(err instanceof TemplateRequestError);
    assert.equal(err.code, 'INPUT_INVALID');
    assert.equal(err.field, 'body.template');
    assert.equal(err.message, `no template "renewal_reminder" in ${missing} (the file has no templates)`);
  });

  it('an empty file or one with comments only has no templates', () => {
    assert.deepEqual(MessageTemplates.load(file('')).names(), []);
    assert.deepEqual(MessageTemplates.load(file('# templates come later')).names(), []);
  });

  it('a malformed placeholder fails naming the file, the line and the key (with its locale)', () => {
    const f = file(
      'welcome: "Hello {{name}}"', //
      'renewal:',
      '  en: "Hi {{name}}, your plan renews soon."',
      '  zh: "{{ first name }}，您的套餐即将续费。"',
    );
    const err = thrown(() => MessageTemplates.load(f));
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.equal(err.message, `${f}:4: renewal.zh: "{{ first name }}" is not a placeholder (write {{name}} with letters, digits or _)`);
    assert.equal(err.context.field, 'renewal.zh');
    assert.equal(err.context.file, f);
  });

  it('a malformed placeholder in a one-text template names its key and line', () => {
    const f = file('welcome: "Hello {{name}}"', 'notice: "Dear {{first-name}}, see you."');
    const err = thrown(() => MessageTemplates.load(f));
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.match(err.message, /:2: notice: "\{\{first-name\}\}" is not a placeholder/);
    assert.ok(err.message.startsWith(`${f}:2: `));
  });

  it('spaces inside the braces are fine: {{ name }} is the placeholder name', () => {
    const templates = MessageTemplates.load(file('hello: "Hello {{ name }}!"'));
    assert.equal(templates.render('hello', 'en', { name: 'Ann' }), 'Hello Ann!');
  });

  it('a YAML syntax error names the file', () => {
    const f = file('renewal:', '  en: "Hi {{name}}', '  zh: "您好"');
    const err = thrown(() => MessageTemplates.load(f));
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.ok(err.message.startsWith(`${f}: `), err.message);
    assert.match(err.message, /line \d+/);
  });

  it('a key given twice is a YAML error naming the file and the line', () => {
    const f = file('hello: "Hello"', 'hello: "Hi"');
    const err = thrown(() => MessageTemplates.load(f));
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.ok(err.message.startsWith(`${f}: `), err.message);
    assert.match(err.message, /unique at line 2/);
  });

  it('a number as a text fails naming the key and its line', () => {
    const f = file('hello: "Hello"', 'invoice_due: 30');
    const err = thrown(() => MessageTemplates.load(f));
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.equal(err.message, `${f}:2: invoice_due: a template is one text, or a map of locale to text (e.g. en: ..., zh: ...)`);
    assert.equal(err.context.field, 'invoice_due');
  });

  it('a list as a text fails naming the key and its line', () => {
    const f = file('hello: "Hello"', '', 'steps: ["Open the app", "Tap Billing"]');
    const err = thrown(() => MessageTemplates.load(f));
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.ok(err.message.startsWith(`${f}:3: steps: a template is one text`), err.message);
  });

  it('a number as one locale’s text fails naming the template and the locale', () => {
    const f = file('hello: "Hello"', 'renewal:', '  zh: 2027', '  en: "Your plan renews soon."');
    const err = thrown(() => MessageTemplates.load(f));
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.ok(err.message.startsWith(`${f}:3: renewal.zh: a template is one text`), err.message);
  });
});

describe('MessageTemplates.render', () => {
  const templates = MessageTemplates.load(
    file(
      'renewal:',
      '  en: "Hi {{name}}, your plan renews on {{date}}."',
      '  zh: "{{name}}，您的套餐将于 {{date}} 续费。"',
      'survey:',
      '  en: "How did we do, {{name}}? {{link}}"',
      '  zh: "{{name}}，请评价我们的服务。"',
      'hello: "Hello there"',
    ),
  );

  it('fills the vars in the locale asked for, numbers too', () => {
    assert.equal(templates.render('renewal', 'zh', { name: '王芳', date: '2027-01-01' }), '王芳，您的套餐将于 2027-01-01 续费。');
    assert.equal(templates.render('renewal', 'en', { name: 'Ann', date: 20270101 }), 'Hi Ann, your plan renews on 20270101.');
    assert.equal(templates.render('hello', 'zh', {}), 'Hello there');
  });

  it('an unknown template is an error on body.template listing the known ones', () => {
    const err = thrown(() => templates.render('renewl', 'en', {}));
    assert.ok(err instanceof TemplateRequestError);
    assert.equal(err.code, 'INPUT_INVALID');
    assert.equal(err.field, 'body.template');
    assert.equal(err.context.field, 'body.template');
    assert.match(err.message, /^no template "renewl" in .*messages-\d+\.yaml \(it has renewal, survey, hello\)$/);
  });

  it('a missing var is an error on body.vars.<name> saying what the template takes', () => {
    const err = thrown(() => templates.render('renewal', 'en', { name: 'Ann' }));
    assert.ok(err instanceof TemplateRequestError);
    assert.equal(err.code, 'INPUT_INVALID');
    assert.equal(err.field, 'body.vars.date');
    assert.equal(err.message, 'template "renewal" needs vars.date (it takes date, name)');
  });

  it('an extra var is an error on body.vars.<name>', () => {
    const err = thrown(() => templates.render('renewal', 'en', { name: 'Ann', date: 'today', plan: 'gold' }));
    assert.ok(err instanceof TemplateRequestError);
    assert.equal(err.field, 'body.vars.plan');
    assert.equal(err.message, 'template "renewal" does not use vars.plan (it takes date, name)');
    const none = thrown(() => templates.render('hello', 'en', { name: 'Ann' }));
    assert.ok(none instanceof TemplateRequestError);
    assert.equal(none.field, 'body.vars.name');
    assert.match(none.message, /it takes no variables/);
  });

  it('a template takes every placeholder of all its locales, even when the locale rendered uses fewer', () => {
    const err = thrown(() => templates.render('survey', 'zh', { name: '王芳' }));
    assert.ok(err instanceof TemplateRequestError);
    assert.equal(err.field, 'body.vars.link');
    assert.equal(templates.render('survey', 'zh', { name: '王芳', link: 'https://example.com/s' }), '王芳，请评价我们的服务。');
  });
});

describe('MessageTemplates load errors point at the locale at fault', () => {
  it('a non-text inside a locale map names key.locale and its own line', () => {
    const dir = tempDir('sb-tpl-');
    const file = join(dir, 'messages.yaml');
    writeFileSync(file, ['hello: "Hello"', 'renewal:', '  en: "Your plan renews soon."', '  zh: 2027', ''].join('\n'));
    assert.throws(() => MessageTemplates.load(file), (err: Error) => err.message.startsWith(`${file}:4: renewal.zh: a template is one text`));
  });
});
