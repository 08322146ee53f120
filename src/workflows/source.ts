/**
 * One workflow file being read: its YAML with line numbers, and the problems found so far, each
 * with file, line and field (`steps[1].wait.until`). A problem's line is that of the key naming
 * the field (or of the nearest enclosing node that exists).
 */
import { LineCounter, isMap, isNode, isSeq, isScalar, parseDocument, type Document, type Node } from 'yaml';
import { formatPath } from '../config/yaml-source.js';
import { HubError } from '../core/errors.js';

export type Path = readonly (string | number)[];

export interface WorkflowProblem {
  file: string;
  line: number;
  /** Dotted path of the field (`(root)` for the file itself). */
  field: string;
  message: string;
}

export function formatProblem(p: WorkflowProblem): string {
  return `${p.file}:${p.line}: ${p.field}: ${p.message}`;
}

/** The workflows could not be loaded: every problem found, each with file, line and field. */
export class WorkflowLoadError extends HubError {
  constructor(readonly problems: readonly WorkflowProblem[]) {
    const first = problems[0];
    super('CONFIG_INVALID', problems.map(formatProblem).join('\n'), {
      context: first ? { file: first.file, line: first.line, field: first.field } : {},
    });
    this.name = 'WorkflowLoadError';
  }
}

export class WorkflowSource {
  readonly doc: Document | undefined;
  readonly problems: WorkflowProblem[] = [];
  private readonly lines = new LineCounter();

  constructor(readonly file: string, text: string) {
    const doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true });
    const first = doc.errors[0];
    if (first) {
      const line = this.lines.linePos(first.pos[0]).line;
      this.problems.push({ file, line, field: '(root)', message: `YAML syntax error: ${first.message.split('\n')[0] ?? ''}` });
      return;
    }
    this.doc = doc;
  }

  toJS(): unknown {
    return this.doc?.toJS() ?? null;
  }

  problem(path: Path, message: string): void {
    this.problems.push({ file: this.file, line: this.lineOf(path), field: formatPath(path), message });
  }

  /** Line of the key of `path` (the deepest part of it the file has; 1 for none). */
  lineOf(path: Path): number {
    let node: unknown = this.doc?.contents;
    let line = this.lineAt(node) ?? 1;
    for (const part of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? p.key.value : p.key) === part);
        if (!pair) break;
        line = this.lineAt(pair.key) ?? this.lineAt(pair.value) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof part === 'number') {
        node = node.items[part];
        line = this.lineAt(node) ?? line;
      } else {
        break;
      }
    }
    return line;
  }

  private lineAt(node: unknown): number | undefined {
    const start = isNode(node) ? (node as Node).range?.[0] : undefined;
    return start === undefined ? undefined : this.lines.linePos(start).line;
  }
}

/** A plain mapping (not a list, not null). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * `value` as a mapping with only `allowed` keys: each other key is a problem (at that key), and a
 * value that is not a mapping is one problem. Returns undefined when it is not a mapping.
 */
export function readMapping(src: WorkflowSource, path: Path, value: unknown, allowed: readonly string[], what: string): Record<string, unknown> | undefined {
  if (!isRecord(value)) {
    src.problem(path, `${what} must be a mapping (${allowed.join(', ')})`);
    return undefined;
  }
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) src.problem([...path, key], `unknown field "${key}": ${what} takes ${allowed.join(', ')}`);
  }
  return value;
}
