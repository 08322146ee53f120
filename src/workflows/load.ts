/**
 * `loadWorkflows(dir)`: every workflow file of the folder (`*.yaml`, `*.yml`; `_defaults.yaml`
 * holds the folder's defaults and is no workflow), compiled and checked, within each file and
 * across them: an event type declared twice must have one data schema, and `cancels` must name an
 * event type some workflow starts on (with a correlation key to match on). Throws
 * `WorkflowLoadError` listing every problem with file, line and field.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, resolve } from 'node:path';
import type { z } from 'zod';
import { dataZodSchema, formatDataSchema } from './fields.js';
import { BUILTIN_DEFAULTS, readDefaults, readWorkflowFile, type FileResult } from './schema.js';
import { WorkflowLoadError, WorkflowSource, type Path, type WorkflowProblem } from './source.js';
import { readTemplateCatalog, type TemplateCatalog } from './texts.js';
import type { EventDeclaration, Workflow, WorkflowDefaults } from './types.js';

export const DEFAULT_WORKFLOWS_DIR = 'config/workflows';
export const DEFAULT_MESSAGE_TEMPLATES = 'config/templates/messages.yaml';
export const DEFAULTS_FILE = '_defaults.yaml';

export interface LoadWorkflowsOptions {
  /** The named templates (default config/templates/messages.yaml, as the hub reads it). */
  templatesFile?: string;
  /** Channel names a fallback list may use (default: any well-formed name). */
  channels?: readonly string[];
  /** Also load these files, each in place of the folder's file of the same name (a dry-run of a draft). */
  extraFiles?: readonly string[];
}

export interface LoadedWorkflows {
  readonly workflows: readonly Workflow[];
  /** Every event type the files declare -> the schema of its `data`. */
  readonly eventTypes: ReadonlyMap<string, z.ZodType<Record<string, unknown>>>;
  /** Every event type the files declare, with its correlation key and what it cancels. */
  readonly events: ReadonlyMap<string, EventDeclaration>;
  readonly defaults: WorkflowDefaults;
  /** The templates of config/templates/messages.yaml the sends may name. */
  readonly templates: TemplateCatalog;
  /** What each workflow was compiled from (its version: `versionOf`). */
  readonly sources: ReadonlyMap<string, WorkflowVersionSource>;
}

export function workflowFiles(dir: string): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return [];
  return readdirSync(dir)
    .filter((n) => (n.endsWith('.yaml') || n.endsWith('.yml')) && !n.startsWith('_') && !n.startsWith('.'))
    .sort()
    .map((n) => join(dir, n));
}

export function workflowName(file: string): string {
  return basename(file, extname(file));
}

/** What one workflow version was compiled from: its file's text, the folder's `_defaults.yaml` and the named templates, as read. */
export interface WorkflowVersionSource {
  readonly workflow: string;
  readonly file: string;
  readonly source: string;
  /** `_defaults.yaml`'s text (null: no such file). */
  readonly defaults: string | null;
  /** The named templates' text (null: no such file). */
  readonly templates: string | null;
}

/** A version's id: a hash of everything it was compiled from (its file, the defaults, the templates). */
export function versionOf(s: WorkflowVersionSource): string {
  return createHash('sha256').update(JSON.stringify([s.source, s.defaults, s.templates])).digest('hex').slice(0, 16);
}

/** The folder's texts, read once: what `compileWorkflows` compiles. */
interface FolderTexts {
  readonly dir: string;
  readonly defaultsFile: string;
  readonly defaults: string | null;
  readonly templatesFile: string;
  readonly templates: string | null;
  readonly files: readonly { readonly file: string; readonly text: string }[];
}

const readIfThere = (file: string): string | null => (existsSync(file) ? readFileSync(file, 'utf8') : null);

export function loadWorkflows(dir: string = DEFAULT_WORKFLOWS_DIR, opts: LoadWorkflowsOptions = {}): LoadedWorkflows {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new WorkflowLoadError([{ file: dir, line: 1, field: '(root)', message: 'the workflows folder does not exist (workflows.dir in hub.yaml, default config/workflows)' }]);
  }
  const templatesFile = opts.templatesFile ?? DEFAULT_MESSAGE_TEMPLATES;
  const defaultsFile = join(dir, DEFAULTS_FILE);
  const extra = (opts.extraFiles ?? []).map((f) => resolve(f));
  const files = [...workflowFiles(dir).filter((f) => !extra.some((e) => workflowName(e) === workflowName(f))), ...extra];
  return compileWorkflows(
    { dir, defaultsFile, defaults: readIfThere(defaultsFile), templatesFile, templates: readIfThere(templatesFile), files: files.map((file) => ({ file, text: readFileSync(file, 'utf8') })) },
    opts.channels,
    true,
  );
}

/**
 * One workflow version from its stored source (a run started on a version the folder no longer
 * has: it finishes on it). Checked within its file only: what it `cancels` was checked when it loaded.
 */
export function compileVersion(s: WorkflowVersionSource): LoadedWorkflows {
  const dir = dirname(s.file);
  return compileWorkflows(
    { dir, defaultsFile: join(dir, DEFAULTS_FILE), defaults: s.defaults, templatesFile: DEFAULT_MESSAGE_TEMPLATES, templates: s.templates, files: [{ file: s.file, text: s.source }] },
    undefined,
    false,
  );
}

function compileWorkflows(t: FolderTexts, channels: readonly string[] | undefined, crossCheck: boolean): LoadedWorkflows {
  const problems: WorkflowProblem[] = [];
  const templates = readTemplateCatalog(t.templatesFile, t.templates);
  let defaults = BUILTIN_DEFAULTS;
  if (t.defaults !== null) {
    const src = new WorkflowSource(t.defaultsFile, t.defaults);
    defaults = readDefaults(src, channels);
    problems.push(...src.problems);
  }
  const results: FileResult[] = [];
  const names = new Map<string, string>();
  const sources = new Map<string, WorkflowVersionSource>();
  for (const { file, text } of t.files) {
    const name = workflowName(file);
    const src = new WorkflowSource(file, text);
    if (names.has(name)) src.problem([], `a second workflow named ${name} (also ${names.get(name) ?? ''}): rename one file`);
    names.set(name, file);
    results.push(readWorkflowFile(src, name, { templates, templatesFile: t.templatesFile, channels, defaults }));
    problems.push(...src.problems);
    sources.set(name, Object.freeze({ workflow: name, file, source: text, defaults: t.defaults, templates: t.templates }));
  }
  const events = mergeDeclarations(results, problems);
  if (crossCheck) checkCancels(results, events, problems);
  if (problems.length > 0) throw new WorkflowLoadError(problems);
  const workflows = results.map((r) => r.workflow).filter((w): w is Workflow => w !== undefined);
  const eventTypes = new Map([...events].map(([type, decl]) => [type, dataZodSchema(decl.data)] as const));
  return Object.freeze({ workflows: Object.freeze(workflows), eventTypes, events, defaults, templates, sources });
}

function problemAt(decl: EventDeclaration, path: Path, message: string): WorkflowProblem {
  return { file: decl.file, line: decl.line, field: path.join('.'), message };
}

/** One declaration per event type; a second one must agree with the first. */
function mergeDeclarations(results: readonly FileResult[], problems: WorkflowProblem[]): Map<string, EventDeclaration> {
  const events = new Map<string, EventDeclaration>();
  for (const { decl, path } of results.flatMap((r) => r.declarations)) {
    const first = events.get(decl.type);
    if (!first) {
      events.set(decl.type, decl);
      continue;
    }
    const where = `${first.file}:${first.line}`;
    if (formatDataSchema(first.data) !== formatDataSchema(decl.data)) {
      problems.push(problemAt(decl, path, `${decl.type} is declared with other data at ${where} (${formatDataSchema(first.data)}): an event type has one data schema`));
    } else if (first.correlationKey && decl.correlationKey && first.correlationKey !== decl.correlationKey) {
      problems.push(problemAt(decl, path, `${decl.type} correlates on ${first.correlationKey} at ${where}: use the same correlationKey`));
    } else {
      const correlationKey = first.correlationKey ?? decl.correlationKey;
      events.set(decl.type, { ...first, cancels: [...new Set([...first.cancels, ...decl.cancels])], ...(correlationKey ? { correlationKey } : {}) });
    }
  }
  for (const [type, decl] of events) events.set(type, Object.freeze({ ...decl, cancels: Object.freeze([...decl.cancels]) }));
  return events;
}

/**
 * A `cancels` names an event type some workflow starts on, and that workflow has a correlation key.
 * Triggers are taken from what each file declares, so a file with another problem does not also
 * make every `cancels` of its event type a problem.
 */
function checkCancels(results: readonly FileResult[], events: ReadonlyMap<string, EventDeclaration>, problems: WorkflowProblem[]): void {
  const triggers = results.flatMap((r) => r.declarations.filter((d) => d.path[0] === 'trigger').map((d) => d.decl));
  for (const r of results) {
    for (const c of r.cancels) {
      const { file, line } = c;
      const field = c.path.map(String).join('.');
      const runs = triggers.filter((t) => t.type === c.type);
      if (runs.length === 0) {
        const known = [...new Set(triggers.map((t) => t.type))];
        const hint = events.has(c.type) ? 'it is declared, but no workflow starts on it' : 'no file declares it';
        problems.push({ file, line, field, message: `cancels ${c.type}, which no workflow starts on (${hint}; workflows start on ${known.join(', ') || 'no event'})` });
        continue;
      }
      const loose = runs.find((t) => t.correlationKey === undefined);
      if (loose) problems.push({ file, line, field, message: `cancels ${c.type}, but the workflow of ${loose.file} has no correlationKey to match the runs on` });
    }
  }
}
