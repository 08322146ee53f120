/**
 * The timeline a workflow would follow (`workflows dry-run`): the renewal reminders at dueAt - 7d
 * and dueAt - 1d, a send due at 23:00 in the customer's zone moved to 08:00 there, the risk
 * alert's answer and timeout branches; a bad event refused by field; and the real command: exit
 * codes, the problems of `workflows check`, the JSON last line.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { checkEvent, type WorkflowEvent } from '../../src/workflows/event.js';
import { loadWorkflows, type LoadedWorkflows } from '../../src/workflows/load.js';
import { matchChoice } from '../../src/workflows/render.js';
import { isoIn, planTimeline } from '../../src/workflows/timeline.js';
import type { Workflow } from '../../src/workflows/types.js';

const run = promisify(execFile);
const loaded: LoadedWorkflows = loadWorkflows('config/workflows', { templatesFile: 'config/templates/messages.yaml' });
const workflow = (name: string): Workflow => {
  const w = loaded.workflows.find((x) => x.name === name);
  assert.ok(w, name);
  return w;
};

function event(w: Workflow, input: unknown): WorkflowEvent {
  assert.ok(w.trigger.kind === 'event');
  const r = checkEvent(input, w.trigger.event, w.trigger.data);
  assert.ok('event' in r, JSON.stringify(r));
  return r.event;
}

const DAY = 86_400_000;

describe('dry-run timeline', () => {
  const renewal = workflow('renewal-reminder');

  it('renewal: the reminders at dueAt - 7d and dueAt - 1d', () => {
    const dueAt = '2030-06-20T10:30:00+08:00';
    const e = event(renewal, { customer: { locale: 'en' }, data: { subscriptionId: 's1', plan: 'Pro', dueAt } });
    const { entries } = planTimeline(renewal, e, { now: new Date('2030-06-01T09:00:00Z'), templates: loaded.templates });
    const sends = entries.filter((x) => x.action === 'send');
    assert.deepEqual(sends.map((x) => x.step), ['remind-7d', 'remind-1d']);
    assert.equal(sends[0]?.at.getTime(), Date.parse(dueAt) - 7 * DAY);
    assert.equal(sends[1]?.at.getTime(), Date.parse(dueAt) - DAY);
    assert.match(sends[0]?.detail ?? '', /Your Pro subscription renews on June 20, 2030/);
    assert.equal(sends[0]?.channel, 'preferred');
  });

  it('quiet hours: a send due at 23:00 in the customer\'s zone waits until 08:00 there; the workflow\'s zone when the customer has none', () => {
    // dueAt - 1d is 2030-06-14 23:00 in New York (quiet), 11:00 in Shanghai (not quiet).
    const data = { subscriptionId: 's1', plan: 'Pro', dueAt: '2030-06-15T23:00:00-04:00' };
    const now = new Date('2030-06-01T00:00:00Z');
    const ny = planTimeline(renewal, event(renewal, { customer: { timezone: 'America/New_York' }, data }), { now, templates: loaded.templates });
    const late = ny.entries.find((x) => x.step === 'remind-1d');
    assert.equal(isoIn(late?.at ?? new Date(0), 'America/New_York'), '2030-06-15T08:00:00-04:00');
    assert.match(late?.detail ?? '', /due 23:00, in quiet hours 21:00–08:00: moved to 08:00/);
    const sh = planTimeline(renewal, event(renewal, { data }), { now, templates: loaded.templates });
    assert.equal(sh.zone, 'Asia/Shanghai');
    assert.equal(sh.entries.find((x) => x.step === 'remind-1d')?.at.toISOString(), '2030-06-15T03:00:00.000Z');
  });

  it('risk alert: the question (urgent: not deferred at night), then each branch: yes thanks, no escalates, no answer escalates 15 minutes later', () => {
    const risk = workflow('risk-alert');
    const e = event(risk, {
      customer: { locale: 'zh-CN', timezone: 'Asia/Shanghai' },
      data: { transactionId: 'tx1', amount: 4999, currency: 'CNY', merchant: '某数码旗舰店', at: '2030-01-05T23:10:00+08:00' },
    });
    const now = new Date('2030-01-05T23:12:00+08:00');
    const { entries } = planTimeline(risk, e, { now, templates: loaded.templates });
    assert.deepEqual(
      entries.map((x) => [x.step, x.action, x.channel, x.branch ?? '', x.at.getTime() - now.getTime()]),
      [
        ['confirm', 'ask', 'preferred', '', 0],
        ['thanks', 'send', 'preferred', 'confirm = yes', 0],
        ['reassure', 'send', 'preferred', 'confirm = no', 0],
        ['escalate-denied', 'escalate', 'desk', 'confirm = no', 0],
        ['escalate-no-answer', 'escalate', 'desk', 'confirm: no answer in 15m', 15 * 60_000],
      ],
    );
    assert.match(entries[0]?.detail ?? '', /2030年1月5日 23:10.*「某数码旗舰店」.*4999 CNY/);
    assert.match(entries[3]?.detail ?? '', /priority high/);
    // The replies the question offers mean what it says.
    const ask = risk.steps[0];
    assert.ok(ask?.action === 'ask');
    assert.deepEqual(['1', '１', ' Yes! ', '是的。', '2', 'No', '不是', 'maybe'].map((r) => matchChoice(ask, r)), ['yes', 'yes', 'yes', 'yes', 'no', 'no', 'no', undefined]);
  });

  it('a bad event is refused by field', () => {
    const w = workflow('risk-alert');
    assert.ok(w.trigger.kind === 'event');
    const r = checkEvent(
      { type: 'transaction.flaged', customer: { timezone: 'Asia/Beijing' }, data: { transactionId: 'tx1', amount: '12', currency: 'CNY', at: '2030-01-05 23:10', extra: 1 } },
      w.trigger.event,
      w.trigger.data,
    );
    assert.ok('problems' in r);
    assert.deepEqual(r.problems.map((p) => p.field).sort(), ['customer.timezone', 'data.amount', 'data.at', 'data.extra', 'data.merchant', 'type']);
    assert.equal(r.problems.find((p) => p.field === 'data.merchant')?.message, 'is required');
    // A value of the wrong type is not "required": it says what it must be.
    assert.equal(r.problems.find((p) => p.field === 'data.amount')?.message, 'must be a number');
  });
});

describe('switchboard workflows (the command)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-workflows-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const absent = join(dir, 'absent.yaml');

  async function cli(args: string[], config = absent): Promise<{ code: number; stdout: string; stderr: string }> {
    try {
      const r = await run(process.execPath, ['bin/switchboard.mjs', 'workflows', ...args], { env: { ...process.env, SWITCHBOARD_CONFIG: config } });
      return { code: 0, ...r };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
    }
  }

  it('check: one line per shipped workflow, exit 0; a broken folder (workflows.dir of hub.yaml): file:line: field: problem, exit 1', async () => {
    const ok = await cli(['check']);
    assert.equal(ok.code, 0, ok.stderr);
    const lines = ok.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0] ?? '', /^config\/workflows\/renewal-reminder\.yaml: renewal-reminder \(reminder\) on event subscription\.expiring, 4 steps.*cancelled by subscription\.renewed$/);
    assert.match(lines[1] ?? '', /^config\/workflows\/risk-alert\.yaml: risk-alert \(alert\) on event transaction\.flagged, 5 steps/);

    const wf = join(dir, 'wf');
    mkdirSync(wf);
    writeFileSync(join(wf, 'late.yaml'), 'trigger:\n  event: order.late\n  data: { orderId: string }\nsteps:\n  - wait: { for: soon }\n');
    const hub = join(dir, 'hub.yaml');
    writeFileSync(hub, `workflows:\n  dir: ${wf}\nchannels:\n  telegram:\n    enabled: true\n    token: \${UNSET_TOKEN_FOR_THIS_TEST}\n`);
    const bad = await cli(['check'], hub);
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, '');
    assert.equal(bad.stderr.trim(), `${join(wf, 'late.yaml')}:5: steps[0].wait.for: "soon" is not a duration like 30s, 15m, 2h, 7d, 1w or 1h30m`);
  });

  it('dry-run: the shipped sample works as is; with --now: one line per step, then the JSON timeline', async () => {
    const args = ['dry-run', 'config/workflows/renewal-reminder.yaml', '--event', 'config/workflows/samples/subscription.expiring.json'];
    const plain = await cli(args);
    assert.equal(plain.code, 0, plain.stderr);
    const r = await cli([...args, '--now', '2030-03-01T10:00:00+08:00']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 6, r.stdout);
    assert.match(lines[2] ?? '', /^2030-03-07T08:00:00\+08:00 +remind-7d +send +preferred +"您好！您的专业版订阅将于 2030年3月14日 到期续费/);
    assert.deepEqual(JSON.parse(lines.at(-1) ?? ''), {
      workflow: 'renewal-reminder',
      steps: [
        { at: '2030-03-07T00:00:00+08:00', step: 'wait-7d', action: 'wait', channel: null },
        { at: '2030-03-07T08:00:00+08:00', step: 'remind-7d', action: 'send', channel: 'preferred' },
        { at: '2030-03-13T00:00:00+08:00', step: 'wait-1d', action: 'wait', channel: null },
        { at: '2030-03-13T08:00:00+08:00', step: 'remind-1d', action: 'send', channel: 'preferred' },
      ],
    });
    const risk = await cli(['dry-run', 'config/workflows/risk-alert.yaml', '--event', 'config/workflows/samples/transaction.flagged.json', '--now', '2030-03-02T22:43:00+01:00']);
    assert.equal(risk.code, 0, risk.stderr);
    const json = JSON.parse(risk.stdout.trimEnd().split('\n').at(-1) ?? '') as { steps: { step: string; branch?: string; at: string }[] };
    assert.deepEqual(json.steps.map((s) => [s.step, s.branch ?? null, s.at]), [
      ['confirm', null, '2030-03-02T22:43:00+01:00'],
      ['thanks', 'confirm = yes', '2030-03-02T22:43:00+01:00'],
      ['reassure', 'confirm = no', '2030-03-02T22:43:00+01:00'],
      ['escalate-denied', 'confirm = no', '2030-03-02T22:43:00+01:00'],
      ['escalate-no-answer', 'confirm: no answer in 15m', '2030-03-02T22:58:00+01:00'],
    ]);
  });

  it('dry-run: a bad event names its fields, exit 1; a missing --event or file, exit 2', async () => {
    const sample = join(dir, 'bad.json');
    writeFileSync(sample, JSON.stringify({ data: { subscriptionId: 's1', plan: 'Pro', dueAt: 'next Friday' } }));
    const bad = await cli(['dry-run', 'config/workflows/renewal-reminder.yaml', '--event', sample]);
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /^ {2}data\.dueAt: must be an ISO 8601 date and time/m);
    const noEvent = await cli(['dry-run', 'config/workflows/renewal-reminder.yaml']);
    assert.equal(noEvent.code, 2);
    assert.match(noEvent.stderr, /--event/);
    const noFile = await cli(['dry-run', join(dir, 'nope.yaml'), '--event', sample]);
    assert.equal(noFile.code, 2);
    assert.equal((await cli(['frobnicate'])).code, 2);
  });
});
