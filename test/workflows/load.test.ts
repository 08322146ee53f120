/**
 * Workflow files: the two shipped examples load into the compiled form (step ids, event types with
 * their data schemas, cancellation); each kind of mistake is a load error naming its file, line
 * and field.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadWorkflows } from '../../src/workflows/load.js';
import { WorkflowLoadError, type WorkflowProblem } from '../../src/workflows/source.js';

const CHANNELS = ['webchat', 'telegram', 'wechat', 'email'];
const root = mkdtempSync(join(tmpdir(), 'sb-workflows-'));
after(() => rmSync(root, { recursive: true, force: true }));

const TEMPLATES = `renewal_reminder:
  en: "Hi {{name}}, your {{plan}} plan renews on {{date}}."
  zh: "{{name}}，您好！您的{{plan}}将于 {{date}} 续费。"
`;

let n = 0;
/** A fresh folder with these files (and a messages.yaml beside it); returns the folder and the templates file. */
function folder(files: Record<string, string>): { dir: string; templatesFile: string } {
  const base = join(root, String(n++));
  const dir = join(base, 'workflows');
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  const templatesFile = join(base, 'messages.yaml');
  writeFileSync(templatesFile, TEMPLATES);
  return { dir, templatesFile };
}

function problemsOf(files: Record<string, string>): WorkflowProblem[] {
  const { dir, templatesFile } = folder(files);
  try {
    loadWorkflows(dir, { templatesFile, channels: CHANNELS });
  } catch (err) {
    assert.ok(err instanceof WorkflowLoadError, String(err));
    return [...err.problems];
  }
  assert.fail('the folder loaded without a problem');
}

/** 1-based line of the first line containing `marker`. */
function lineOf(text: string, marker: string): number {
  const i = text.split('\n').findIndex((l) => l.includes(marker));
  assert.ok(i >= 0, `marker ${marker} not in the fixture`);
  return i + 1;
}

const HEAD = `kind: reminder
trigger:
  event: order.delayed
  data: { orderId: string, plan: string, dueAt: datetime, amount: number, note: string? }
correlationKey: orderId
steps:
`;

/** Asserts exactly one problem, in `file`, on the line of `marker`, at `field`, with a message matching `message`. */
function expectOne(steps: string, marker: string, field: string, message: RegExp, extra: Record<string, string> = {}): void {
  const text = HEAD + steps;
  const problems = problemsOf({ 'wf.yaml': text, ...extra });
  assert.equal(problems.length, 1, JSON.stringify(problems, null, 2));
  const [p] = problems;
  assert.match(p?.file ?? '', /workflows\/wf\.yaml$/);
  assert.equal(p?.line, lineOf(text, marker), JSON.stringify(p));
  assert.equal(p?.field, field);
  assert.match(p?.message ?? '', message);
}

describe('the shipped workflows', () => {
  it('load cleanly: renewal reminder and risk alert, their event types and data schemas, the renewal cancelling the reminders', () => {
    const loaded = loadWorkflows('config/workflows', { templatesFile: 'config/templates/messages.yaml', channels: CHANNELS });
    const byName = new Map(loaded.workflows.map((w) => [w.name, w]));
    assert.deepEqual([...byName.keys()], ['renewal-reminder', 'risk-alert']);

    const renewal = byName.get('renewal-reminder');
    assert.ok(renewal?.trigger.kind === 'event');
    assert.equal(renewal.trigger.event, 'subscription.expiring');
    assert.equal(renewal.kind, 'reminder');
    assert.equal(renewal.correlationKey, 'subscriptionId');
    assert.deepEqual(renewal.steps.map((s) => `${s.id}:${s.action}`), ['wait-7d:wait', 'remind-7d:send', 'wait-1d:wait', 'remind-1d:send']);
    const w7 = renewal.steps[0];
    assert.ok(w7?.action === 'wait' && 'until' in w7);
    assert.deepEqual({ field: w7.until.field, offsetMs: w7.until.offsetMs }, { field: 'dueAt', offsetMs: -7 * 86_400_000 });
    assert.deepEqual(loaded.events.get('subscription.renewed')?.cancels, ['subscription.expiring']);
    assert.equal(loaded.events.get('subscription.renewed')?.correlationKey, 'subscriptionId');

    const risk = byName.get('risk-alert');
    assert.equal(risk?.kind, 'alert');
    assert.deepEqual([...(risk?.stepsById.keys() ?? [])], ['confirm', 'thanks', 'reassure', 'escalate-denied', 'escalate-no-answer']);
    const ask = risk?.steps[0];
    assert.ok(ask?.action === 'ask');
    assert.equal(ask.timeoutMs, 15 * 60_000);
    assert.equal(ask.urgent, true);
    assert.deepEqual(ask.choices.map((c) => c.answer), ['yes', 'no']);
    assert.deepEqual(Object.keys(ask.on), ['yes', 'no', 'timeout']);
    assert.deepEqual(ask.on.timeout?.map((s) => s.action), ['escalate']);
    const escalate = ask.on.no?.[1];
    assert.ok(escalate?.action === 'escalate' && escalate.priority === 'high');

    // Event data schemas, as zod schemas built from the files.
    assert.deepEqual([...loaded.eventTypes.keys()].sort(), ['subscription.expiring', 'subscription.renewed', 'transaction.flagged']);
    const flagged = loaded.eventTypes.get('transaction.flagged');
    assert.ok(flagged);
    assert.equal(flagged.safeParse({ transactionId: 't1', amount: 12.5, currency: 'CNY', merchant: 'M', at: '2025-03-02T22:41:00+08:00' }).success, true);
    const bad = flagged.safeParse({ transactionId: 't1', amount: '12.5', currency: 'CNY', merchant: 'M', at: 'yesterday' });
    assert.ok(!bad.success);
    assert.deepEqual(bad.error.issues.map((i) => i.path.join('.')).sort(), ['amount', 'at']);
    assert.equal(loaded.eventTypes.get('subscription.renewed')?.safeParse({ subscriptionId: 's' }).success, true);

    // Immutable.
    assert.ok(Object.isFrozen(renewal) && Object.isFrozen(renewal.steps) && Object.isFrozen(loaded.workflows));
    assert.equal(loaded.defaults.timezone, 'Asia/Shanghai');
    assert.deepEqual(loaded.defaults.quietHours, { from: '21:00', to: '08:00' });
  });
});

describe('compiled step ids', () => {
  it('a step without id: is named by its path (index, ask answer, then/else); an id: names it', () => {
    const { dir, templatesFile } = folder({
      'ids.yaml': `${HEAD}  - wait: { for: 1h }
  - ask:
      text: { en: "Still want {{plan}}? 1 yes 2 no", zh: "还需要{{plan}}吗？1 是 2 否" }
      choices: { yes: [1, 是], no: [2, 否] }
      timeout: 1d
    on:
      yes:
        - send: { text: "Great" }
        - id: check
          if: "amount >= 100"
          then:
            - escalate: { priority: high }
          else:
            - send: { template: renewal_reminder, vars: { name: "{{customerName}}", date: "{{dueAt_date}}" } }
      timeout:
        - if: "answer.1 == timeout"
          then: [{ webhook: { url: "https://crm.example.com/hook", secret: "\${CRM_SECRET}" } }]
`,
    });
    const [w] = loadWorkflows(dir, { templatesFile, channels: CHANNELS }).workflows;
    assert.deepEqual([...(w?.stepsById.keys() ?? [])], ['0', '1', '1.yes.0', 'check', 'check.then.0', 'check.else.0', '1.timeout.0', '1.timeout.0.then.0']);
    const send = w?.stepsById.get('check.else.0');
    assert.ok(send?.action === 'send' && 'template' in send.message);
    assert.deepEqual(send.message.vars, { name: '{{customerName}}', date: '{{dueAt_date}}', plan: '{{plan}}' });
    assert.deepEqual(send.channels, ['preferred'], 'the folder default when neither step nor workflow gives channels');
    const hook = w?.stepsById.get('1.timeout.0.then.0');
    assert.ok(hook?.action === 'webhook');
    assert.equal(hook.secretEnv, 'CRM_SECRET');
  });
});

describe('load errors name file, line and field', () => {
  it('an unknown key', () => {
    expectOne('  - send:\n      text: "Hello"\n      chanels: [email]\n', 'chanels', 'steps[0].send.chanels', /unknown field "chanels".*channels/);
  });
  it('a bad duration', () => {
    expectOne('  - wait: { for: 15x }\n', 'for: 15x', 'steps[0].wait.for', /"15x" is not a duration like/);
  });
  it('an until on a field that is not a datetime of the data schema', () => {
    expectOne('  - wait:\n      until: "plan - 7d"\n', 'until', 'steps[0].wait.until', /plan is a string: until needs a datetime field \(this trigger has dueAt\)/);
    expectOne('  - wait:\n      until: "renewsAt - 7d"\n', 'until', 'steps[0].wait.until', /renewsAt is not a field/);
    expectOne('  - wait:\n      until: "dueAt - 7 days"\n', 'until', 'steps[0].wait.until', /not <datetime field> \[\+\|- <duration>\]|is not a duration/);
  });
  it('a skipAfter on a field that is not a datetime of the data schema', () => {
    expectOne('  - send:\n      skipAfter: "plan"\n      text: "Hello"\n', 'skipAfter', 'steps[0].send.skipAfter', /plan is a string: skipAfter needs a datetime field \(this trigger has dueAt\)/);
  });
  it('a placeholder that is not a data field or built-in', () => {
    expectOne('  - send:\n      text:\n        zh: "订单 {{orderId}}"\n        en: "Order {{orderID}}"\n', 'en: "Order', 'steps[0].send.text.en', /\{\{orderID\}\} is not a field of the trigger's data.*\{\{orderId\}\}/);
  });
  it('a template name not in messages.yaml, and a template variable the data lacks', () => {
    expectOne('  - send:\n      template: renewal_remindr\n', 'renewal_remindr', 'steps[0].send.template', /no template "renewal_remindr" in .*messages\.yaml \(it has renewal_reminder\)/);
    expectOne('  - send:\n      template: renewal_reminder\n      vars: { date: "{{dueAt_date}}" }\n', 'template:', 'steps[0].send.template', /uses \{\{name\}\}, which is not a field.*vars: \{ name/);
  });
  it('an on branch that names no answer, an empty branch, an if without then, an answer of no ask', () => {
    const ask = '  - id: q\n    ask: { text: "1 or 2?", choices: { yes: ["1"], no: ["2"] }, timeout: 1h }\n    on:\n';
    expectOne(`${ask}      maybe:\n        - send: { text: "hm" }\n`, 'maybe:', 'steps[0].on.maybe', /unknown field "maybe".*yes, no, timeout/);
    expectOne(`${ask}      no: []\n`, 'no: []', 'steps[0].on.no', /at least one step/);
    expectOne('  - if: "amount > 5"\n', '- if:', 'steps[0]', /an if needs then:/);
    expectOne('  - if: "answer.q == yes"\n    then: [{ send: { text: "x" } }]\n', '- if:', 'steps[0].if', /no ask step "q" before this if/);
  });
  it('duplicate step ids', () => {
    const steps = '  - id: remind\n    send: { text: "a" }\n  - wait: { for: 1d }\n  - id: remind\n    send: { text: "b" }\n';
    const text = HEAD + steps;
    const [p, ...more] = problemsOf({ 'wf.yaml': text });
    assert.equal(more.length, 0);
    assert.equal(p?.field, 'steps[2].id');
    assert.equal(p?.line, text.split('\n').lastIndexOf('  - id: remind') + 1);
    assert.match(p?.message ?? '', /duplicate step id "remind" \(also at steps\[0\]\)/);
  });
  it('a cron expression that does not parse, an unknown time zone', () => {
    const cron = 'trigger:\n  cron: "61 9 * * *"\n  timezone: Asia/Shanghai\nsteps:\n  - webhook: { url: "https://x.example/h", secret: "${S}" }\n';
    const problems = problemsOf({ 'wf.yaml': cron });
    assert.deepEqual(problems.map((p) => [p.line, p.field]), [[2, 'trigger.cron']]);
    assert.match(problems[0]?.message ?? '', /"61 9 \* \* \*" is not a cron expression/);
    const zone = cron.replace('61 9', '0 9').replace('Asia/Shanghai', 'Asia/Shanghia');
    const z = problemsOf({ 'wf.yaml': zone });
    assert.deepEqual(z.map((p) => [p.line, p.field]), [[3, 'trigger.timezone']]);
    assert.match(z[0]?.message ?? '', /"Asia\/Shanghia" is not a time zone/);
    const top = problemsOf({ 'wf.yaml': `timezone: Europe/Berln\n${HEAD}  - send: { text: "x" }\n` });
    assert.deepEqual(top.map((p) => [p.line, p.field]), [[1, 'timezone']]);
    // A scheduled run has no customer to write to.
    const sched = problemsOf({ 'wf.yaml': cron.replace('61 9', '0 9').replace('- webhook: { url: "https://x.example/h", secret: "${S}" }', '- send: { text: "hi" }') });
    assert.deepEqual(sched.map((p) => p.field), ['steps[0].send']);
  });
  it('a cancels naming an event type no workflow starts on', () => {
    const text = `${HEAD}  - send: { text: "x" }\nevents:\n  order.arrived:\n    data: { orderId: string }\n    correlationKey: orderId\n    cancels: [order.delayd]\n`;
    const problems = problemsOf({ 'wf.yaml': text });
    assert.deepEqual(problems.map((p) => [p.line, p.field]), [[lineOf(text, 'cancels:'), 'events.order.arrived.cancels']]);
    assert.match(problems[0]?.message ?? '', /cancels order\.delayd, which no workflow starts on .*workflows start on order\.delayed/);
    // A problem elsewhere in the file it cancels is reported alone (no cascade into the cancels).
    const broken = text.replace('order.delayd', 'order.delayed').replace('- send: { text: "x" }', '- send: { text: "{{nope}}" }');
    assert.deepEqual(problemsOf({ 'wf.yaml': broken }).map((p) => p.field), ['steps[0].send.text']);
    // Spelt right, it loads.
    const { dir, templatesFile } = folder({ 'wf.yaml': text.replace('order.delayd', 'order.delayed') });
    assert.deepEqual(loadWorkflows(dir, { templatesFile }).events.get('order.arrived')?.cancels, ['order.delayed']);
  });
  it('a webhook secret written in the file, a channel that does not exist, a bad field type', () => {
    expectOne('  - webhook:\n      url: https://crm.example.com/h\n      secret: hunter2hunter2hunter2\n', 'secret:', 'steps[0].webhook.secret', /environment variable reference like \$\{/);
    expectOne('  - escalate:\n      note: "Order {{order}} is late"\n', 'note: "Order', 'steps[0].escalate.note', /\{\{order\}\} is not a field/);
    expectOne('  - send:\n      text: "x"\n      channels: [preferred, sms]\n', 'channels:', 'steps[0].send.channels', /"sms" is not a channel.*telegram/);
    const text = HEAD.replace('amount: number', 'amount: money') + '  - send: { text: "x" }\n';
    const problems = problemsOf({ 'wf.yaml': text });
    assert.deepEqual(problems.map((p) => [p.line, p.field]), [[4, 'trigger.data.amount']]);
    assert.match(problems[0]?.message ?? '', /"money" is not a field type: use string, number, integer, boolean, datetime/);
  });
  it('two files declaring one event type with different data; every problem of every file is listed', () => {
    const a = `${HEAD}  - send: { text: "x" }\n`;
    const b = a.replace('plan: string, ', '');
    const c = `${HEAD}  - wait: { for: 2 }\n`;
    const problems = problemsOf({ 'a.yaml': a, 'b.yaml': b, 'c.yaml': c });
    assert.deepEqual(
      problems.map((p) => [p.file.split('/').pop(), p.line, p.field]),
      [['c.yaml', 7, 'steps[0].wait.for'], ['b.yaml', 3, 'trigger.event']],
    );
    assert.match(problems[1]?.message ?? '', /order\.delayed is declared with other data at .*a\.yaml:3/);
  });
  it('a YAML syntax error names its line', () => {
    const problems = problemsOf({ 'wf.yaml': `${HEAD}  - send: { text: "x"\n  - wait: { for: 1d }\n` });
    assert.equal(problems.length, 1);
    assert.equal(problems[0]?.field, '(root)');
    assert.match(problems[0]?.message ?? '', /YAML syntax error/);
  });
});
