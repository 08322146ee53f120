/**
 * The timeline a workflow would follow for one event, computed without sending anything (the
 * `workflows dry-run` command): each step with the time it would act, the channel it would use
 * (the first of its fallback order), quiet hours applied in the customer's time zone (else the
 * workflow's), every branch an `ask` may take, and the branch an `if` on the event data takes.
 */
import { evaluate } from './condition.js';
import { formatDuration } from './duration.js';
import type { WorkflowEvent } from './event.js';
import { renderMessage, runVars } from './render.js';
import type { TemplateCatalog } from './texts.js';
import type { Step, StepAction, Workflow } from './types.js';
import { afterQuietHours, wallTime } from './zone.js';

export interface TimelineEntry {
  at: Date;
  step: string;
  action: StepAction;
  /** A send or ask: the first channel of its fallback order; escalate: `desk`; webhook: `webhook`; else null. */
  channel: string | null;
  /** The answers and conditions on the way to this step (absent on the main line). */
  branch?: string;
  /** What the step does, for people. */
  detail: string;
}

export interface TimelineOptions {
  now: Date;
  templates: TemplateCatalog;
}

interface Walk {
  entries: TimelineEntry[];
  zone: string;
  locale: string;
  vars: Record<string, string | number>;
}

export function planTimeline(workflow: Workflow, event: WorkflowEvent, opts: TimelineOptions): { zone: string; entries: TimelineEntry[] } {
  const zone = event.customer.timezone ?? workflow.timezone;
  const locale = event.customer.locale ?? 'en';
  const walk: Walk = { entries: [], zone, locale, vars: runVars(workflow.trigger.data, event.data, { locale, timeZone: zone }) };
  const run = (steps: readonly Step[], start: Date, answers: Record<string, string>, branch: string | undefined): Date => {
    let t = start;
    const push = (step: Step, at: Date, channel: string | null, detail: string): void => {
      walk.entries.push({ at, step: step.id, action: step.action, channel, ...(branch === undefined ? {} : { branch }), detail });
    };
    const within = (label: string): string => (branch === undefined ? label : `${branch}; ${label}`);
    for (const step of steps) {
      switch (step.action) {
        case 'send':
        case 'ask': {
          const at = step.urgent ? t : afterQuietHours(t, workflow.quietHours, zone);
          const limit = step.skipAfter ? Date.parse(String(event.data[step.skipAfter.field])) + step.skipAfter.offsetMs : Number.NaN;
          if (!Number.isNaN(limit) && at.getTime() > limit) {
            push(step, at, null, `skipped: stale, past ${step.skipAfter?.source ?? ''} (${new Date(limit).toISOString()})`);
            t = at;
            break;
          }
          const text = renderMessage(step.message, walk.vars, locale, opts.templates) ?? `(template ${'template' in step.message ? step.message.template : ''})`;
          const moved = at.getTime() !== t.getTime() ? ` (due ${localTime(t, zone)}, in quiet hours ${workflow.quietHours?.from}–${workflow.quietHours?.to}: moved to ${localTime(at, zone)})` : '';
          const choicesNote = step.action === 'ask' ? ` [answers: ${step.choices.map((c) => `${c.answer} = ${c.replies.join('/')}`).join('; ')}; timeout ${formatDuration(step.timeoutMs)}]` : '';
          push(step, at, step.channels[0] ?? 'preferred', `${JSON.stringify(oneLine(text))}${choicesNote}${moved}`);
          t = at;
          if (step.action === 'ask') {
            let end = t;
            for (const answer of [...step.choices.map((c) => c.answer), 'timeout']) {
              const from = answer === 'timeout' ? new Date(t.getTime() + step.timeoutMs) : t;
              const label = answer === 'timeout' ? `${step.id}: no answer in ${formatDuration(step.timeoutMs)}` : `${step.id} = ${answer}`;
              const branchEnd = run(step.on[answer] ?? [], from, { ...answers, [step.id]: answer }, within(label));
              if (branchEnd > end) end = branchEnd;
            }
            t = end;
          }
          break;
        }
        case 'wait': {
          if ('forMs' in step) {
            t = new Date(t.getTime() + step.forMs);
            push(step, t, null, `waits ${formatDuration(step.forMs)}`);
          } else {
            const target = new Date(Date.parse(String(event.data[step.until.field])) + step.until.offsetMs);
            const past = target < t;
            if (!past) t = target;
            push(step, t, null, `until ${step.until.source}${past ? ` (${target.toISOString()} is already past: continues at once)` : ''}`);
          }
          break;
        }
        case 'escalate':
          push(step, t, 'desk', `to an agent, priority ${step.priority}${step.note ? `: ${JSON.stringify(oneLine(renderMessage({ inline: step.note }, walk.vars, locale, opts.templates) ?? ''))}` : ''}`);
          break;
        case 'webhook':
          push(step, t, 'webhook', `POST ${step.url}, signed with $${step.secretEnv}`);
          break;
        case 'if': {
          const c = step.condition;
          if ('answerOf' in c.left && answers[c.left.answerOf] === undefined) {
            push(step, t, null, `${c.source}: depends on the answer, both branches follow`);
            const a = run(step.then, t, answers, within(`if ${c.source}`));
            const b = run(step.else, t, answers, within(`unless ${c.source}`));
            t = a > b ? a : b;
          } else {
            const holds = evaluate(c, event.data, answers);
            push(step, t, null, `${c.source}: ${holds ? 'true, then' : 'false, else'}`);
            t = run(holds ? step.then : step.else, t, answers, branch);
          }
          break;
        }
      }
    }
    return t;
  };
  run(workflow.steps, opts.now, {}, undefined);
  return { zone, entries: walk.entries };
}

function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ');
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** ISO 8601 in `zone`, with its offset: 2025-03-07T08:00:00+08:00. */
export function isoIn(at: Date, zone: string): string {
  const w = wallTime(at, zone);
  const offsetMin = Math.round((Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(at.getTime() / 1000) * 1000) / 60_000);
  const sign = offsetMin < 0 ? '-' : '+';
  const off = offsetMin === 0 ? 'Z' : `${sign}${pad(Math.floor(Math.abs(offsetMin) / 60))}:${pad(Math.abs(offsetMin) % 60)}`;
  return `${w.year}-${pad(w.month)}-${pad(w.day)}T${pad(w.hour)}:${pad(w.minute)}:${pad(w.second)}${off}`;
}

function localTime(at: Date, zone: string): string {
  const w = wallTime(at, zone);
  return `${pad(w.hour)}:${pad(w.minute)}`;
}
