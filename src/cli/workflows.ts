/**
 * `switchboard workflows check`: loads every workflow file of the workflows folder (hub.yaml's
 * workflows.dir, default config/workflows; hub.yaml from SWITCHBOARD_CONFIG, else
 * config/hub.yaml, defaults when there is none) with config/templates/messages.yaml; prints one
 * line per workflow (exit 0) or each problem as `file:line: field: problem` (exit 1).
 *
 * `switchboard workflows dry-run FILE --event EVENT.json [--now ISO]`: checks the event against the
 * workflow's trigger (problems by field, exit 1), then prints the timeline the workflow would
 * follow, sending nothing: one line per step (time, step, action, channel, branch, what it does),
 * then as the last line `{"workflow":…,"steps":[{"at","step","action","channel"[,"branch"]}]}`.
 * FILE may lie outside the folder (a draft); it replaces the folder's file of the same name.
 * Bad arguments or an unreadable file: exit 2.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { adapterFactories } from '../adapters/registry.js';
import { configPath, createConfigLoader } from '../config/load.js';
import { errorMessage } from '../core/errors.js';
import { checkEvent } from '../workflows/event.js';
import { DEFAULT_MESSAGE_TEMPLATES, DEFAULT_WORKFLOWS_DIR, loadWorkflows, workflowName, type LoadedWorkflows } from '../workflows/load.js';
import { WorkflowLoadError, formatProblem } from '../workflows/source.js';
import { isoIn, planTimeline } from '../workflows/timeline.js';
import type { Workflow } from '../workflows/types.js';
import type { CliIo } from './input.js';

export const WORKFLOWS_USAGE = `usage: switchboard workflows check
       switchboard workflows dry-run FILE --event EVENT.json [--now 2025-03-01T09:00:00Z]`;

class UsageError extends Error {}

/* Only workflows.dir is read: the rest of hub.yaml (secrets included) need not be set to check workflows. */
const dirConfig = createConfigLoader(z.object({ workflows: z.looseObject({ dir: z.string().default(DEFAULT_WORKFLOWS_DIR) }).default({ dir: DEFAULT_WORKFLOWS_DIR }) }));

export interface WorkflowsOptions {
  /** hub.yaml to read (default: SWITCHBOARD_CONFIG or config/hub.yaml); absent file: defaults. */
  configFile?: string;
  templatesFile?: string;
}

export async function workflowsCommand(argv: string[], io: CliIo = { out: process.stdout, err: process.stderr }, opts: WorkflowsOptions = {}): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub === 'check') {
      if (rest.length > 0) throw new UsageError(`workflows check takes no arguments (got ${rest.join(' ')})`);
      return check(io, opts);
    }
    if (sub === 'dry-run') return await dryRun(rest, io, opts);
    throw new UsageError(sub === undefined ? 'give a workflows command' : `unknown workflows command: ${sub}`);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err.write(`${err.message}\n${WORKFLOWS_USAGE}\n`);
      return 2;
    }
    io.err.write(`${err instanceof WorkflowLoadError ? err.problems.map(formatProblem).join('\n') : errorMessage(err)}\n`);
    return 1;
  }
}

function load(opts: WorkflowsOptions, extraFiles: string[] = []): LoadedWorkflows {
  return loadConfiguredWorkflows(opts, extraFiles).loaded;
}

/** The workflows folder hub.yaml names (`workflows.dir`, else the default), loaded as the CLI commands see it. */
export function loadConfiguredWorkflows(
  opts: WorkflowsOptions & { env?: NodeJS.ProcessEnv },
  extraFiles: string[] = [],
): { dir: string; loaded: LoadedWorkflows } {
  const cfgFile = opts.configFile ?? configPath(opts.env ?? process.env);
  const dir = existsSync(cfgFile) ? dirConfig.loadConfigFile(cfgFile).workflows.dir : DEFAULT_WORKFLOWS_DIR;
  const loaded = loadWorkflows(dir, {
    templatesFile: opts.templatesFile ?? DEFAULT_MESSAGE_TEMPLATES,
    channels: adapterFactories.map((f) => f.channel),
    extraFiles,
  });
  return { dir, loaded };
}

function check(io: CliIo, opts: WorkflowsOptions): number {
  const loaded = load(opts);
  const cancelledBy = (w: Workflow): string[] =>
    [...loaded.events.values()].filter((e) => w.trigger.kind === 'event' && e.cancels.includes(w.trigger.event)).map((e) => e.type);
  for (const w of loaded.workflows) {
    const by = cancelledBy(w);
    io.out.write(`${w.file}: ${w.name} (${w.kind}) ${describeTrigger(w)}, ${w.stepsById.size} steps${w.correlationKey ? `, correlated by ${w.correlationKey}` : ''}${by.length ? `, cancelled by ${by.join(', ')}` : ''}\n`);
  }
  if (loaded.workflows.length === 0) io.out.write('no workflows (add config/workflows/<name>.yaml; docs/workflows.md)\n');
  return 0;
}

function describeTrigger(w: Workflow): string {
  const t = w.trigger;
  if (t.kind === 'event') return `on event ${t.event}`;
  if (t.kind === 'conversation') return `on conversation ${t.event}`;
  return `on schedule "${t.cron}" (${t.timezone})`;
}

/** The event type a dry-run's sample may name (none for a schedule). */
function triggerType(w: Workflow): string | undefined {
  const t = w.trigger;
  if (t.kind === 'event') return t.event;
  if (t.kind === 'conversation') return t.event === 'csat.given' ? t.event : `conversation.${t.event}`;
  return undefined;
}

async function dryRun(argv: string[], io: CliIo, opts: WorkflowsOptions): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { event: { type: 'string' }, now: { type: 'string' } }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  const [file, ...extra] = parsed.positionals;
  if (file === undefined) throw new UsageError('give the workflow file');
  if (extra.length > 0) throw new UsageError(`one workflow file only (got also: ${extra.join(' ')})`);
  if (!existsSync(file)) throw new UsageError(`${file}: no such workflow file`);
  const eventFile = parsed.values.event;
  if (eventFile === undefined) throw new UsageError('give the event: --event EVENT.json ({ "customer": {…}, "data": {…} })');
  const now = parsed.values.now === undefined ? new Date() : new Date(parsed.values.now);
  if (Number.isNaN(now.getTime()) || (parsed.values.now !== undefined && !/^\d{4}-\d\d-\d\dT/.test(parsed.values.now))) {
    throw new UsageError(`--now ${parsed.values.now ?? ''}: not an ISO 8601 date and time (e.g. 2025-03-01T09:00:00Z)`);
  }
  let text: string;
  try {
    text = await readFile(eventFile, 'utf8');
  } catch (err) {
    throw new UsageError(`--event ${eventFile}: ${errorMessage(err)}`);
  }
  const loaded = load(opts, [file]);
  const workflow = loaded.workflows.find((w) => w.name === workflowName(file));
  if (!workflow) throw new Error(`${file}: no workflow loaded from it`);
  let input: unknown;
  try {
    input = JSON.parse(text);
  } catch (err) {
    io.err.write(`${eventFile}: not JSON (${errorMessage(err)})\n`);
    return 1;
  }
  const type = triggerType(workflow);
  const checked = checkEvent(input, type ?? '', workflow.trigger.data);
  if ('problems' in checked) {
    io.err.write(`${eventFile}: not a valid ${type ?? 'event'} for ${workflow.name}\n${checked.problems.map((p) => `  ${p.field}: ${p.message}`).join('\n')}\n`);
    return 1;
  }
  const { zone, entries } = planTimeline(workflow, checked.event, { now, templates: loaded.templates });
  const quiet = workflow.quietHours ? `quiet hours ${workflow.quietHours.from}–${workflow.quietHours.to}` : 'no quiet hours';
  io.out.write(`${workflow.name} ${describeTrigger(workflow)} (dry run: nothing is sent); now ${isoIn(now, zone)}, customer time zone ${zone}, ${quiet}\n`);
  const width = Math.max(4, ...entries.map((e) => e.step.length));
  for (const e of entries) {
    const where = e.branch === undefined ? '' : `[${e.branch}] `;
    io.out.write(`${isoIn(e.at, zone)}  ${e.step.padEnd(width)}  ${e.action.padEnd(8)}  ${(e.channel ?? '-').padEnd(9)}  ${where}${e.detail}\n`);
  }
  if (entries.length === 0) io.out.write('(no steps)\n');
  const steps = entries.map((e) => ({ at: isoIn(e.at, zone), step: e.step, action: e.action, channel: e.channel, ...(e.branch === undefined ? {} : { branch: e.branch }) }));
  io.out.write(`${JSON.stringify({ workflow: workflow.name, steps })}\n`);
  return 0;
}
