/**
 * Workflow versions: what new runs start on, and what a running run finishes on. A version is a
 * hash of what the workflow was compiled from (its file, `_defaults.yaml`, the named templates;
 * `versionOf`); a run records it when it starts, and its source is stored then
 * (`workflow_versions`), before any step of it runs. A hot reload (`use`) changes what new runs
 * start on; a running run's steps keep coming from its own version: from memory, else compiled
 * again from the stored source (a process that never loaded it, after a restart). A run whose
 * version is nowhere (started before versions were stored) runs on the current workflow of its name.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../core/errors.js';
import type { Storage } from '../core/storage/storage.js';
import { compileVersion, versionOf, type LoadedWorkflows } from './load.js';
import type { AskStep, Step, Workflow } from './types.js';

/** A workflow as one version compiled it, with the templates and defaults it was compiled with. */
export interface Definition {
  readonly workflow: Workflow;
  readonly loaded: LoadedWorkflows;
  readonly version: string;
}

export class WorkflowVersions {
  private current!: LoadedWorkflows;
  private byName = new Map<string, Definition>();
  private readonly known = new Map<string, Definition>();
  /** Versions whose source is stored (or being stored). */
  private readonly saved = new Map<string, Promise<void>>();
  private asks: readonly AskStep[] = [];

  constructor(
    loaded: LoadedWorkflows,
    private readonly storage: Storage,
    private readonly log: Logger,
  ) {
    this.use(loaded);
  }

  /** What new runs start on. */
  get loaded(): LoadedWorkflows {
    return this.current;
  }

  /** Every `ask` of the versions in memory: a customer message matching none of their choices answers nothing. */
  get allAsks(): readonly AskStep[] {
    return this.asks;
  }

  /** New runs start on `loaded` from now on; runs already started keep their version. */
  use(loaded: LoadedWorkflows): void {
    this.current = loaded;
    const byName = new Map<string, Definition>();
    for (const workflow of loaded.workflows) {
      const source = loaded.sources.get(workflow.name);
      const version = source ? versionOf(source) : '';
      const def = this.known.get(version) ?? { workflow, loaded, version };
      byName.set(workflow.name, def);
      this.remember(def);
    }
    this.byName = byName;
  }

  /** The current workflows by name. */
  workflows(): Workflow[] {
    return [...this.byName.values()].map((d) => d.workflow);
  }

  currentOf(name: string): Definition | undefined {
    return this.byName.get(name);
  }

  /** The current version of `name`, its source stored (once per version) so a run started on it can finish on it anywhere. */
  async startable(name: string): Promise<Definition | undefined> {
    const def = this.byName.get(name);
    if (!def) return undefined;
    let saving = this.saved.get(def.version);
    if (!saving) {
      const source = def.loaded.sources.get(name);
      saving = source ? this.storage.workflowRuns.saveVersion({ version: def.version, ...source }) : Promise.resolve();
      this.saved.set(def.version, saving);
      saving.catch(() => this.saved.delete(def.version));
    }
    await saving;
    return def;
  }

  /** The definition a run of `workflow` started on `version` runs on. */
  async of(workflow: string, version: string): Promise<Definition | undefined> {
    const mem = this.known.get(version);
    if (mem) return mem;
    const stored = version ? await this.storage.workflowRuns.version(version) : undefined;
    if (stored) {
      try {
        const loaded = compileVersion(stored);
        const w = loaded.workflows.find((x) => x.name === stored.workflow);
        if (w) {
          const def = { workflow: w, loaded, version };
          this.remember(def);
          return def;
        }
      } catch (err) {
        this.log.error({ workflow, version, error: errorMessage(err) }, 'a stored workflow version does not compile any more; its runs continue on the current file');
      }
    }
    return this.byName.get(workflow);
  }

  /** A step of a run's version (undefined: not in that version). */
  async step(workflow: string, version: string, stepId: string): Promise<Step | undefined> {
    return (await this.of(workflow, version))?.workflow.stepsById.get(stepId);
  }

  /** Loads the versions of the running runs into memory (their asks answer customer messages). */
  async preload(): Promise<void> {
    for (const r of await this.storage.workflowRuns.runningVersions()) await this.of(r.workflow, r.version);
  }

  private remember(def: Definition): void {
    if (this.known.has(def.version)) return;
    this.known.set(def.version, def);
    this.asks = [...this.asks, ...[...def.workflow.stepsById.values()].filter((s): s is AskStep => s.action === 'ask')];
  }
}
