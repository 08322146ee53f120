import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import { HubError } from '../core/errors.js';

/** A parsed YAML file that can say on which line a field stands. */
export class YamlSource {
  readonly doc: Document;
  private readonly lines = new LineCounter();

  constructor(readonly file: string, readonly text: string) {
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false });
    const first = this.doc.errors[0];
    if (first) {
      const pos = this.lines.linePos(first.pos[0]);
      throw new HubError('CONFIG_INVALID', `${file}:${pos.line}:${pos.col}: YAML syntax error: ${first.message.split('\n')[0]}`, {
        context: { file, line: pos.line },
      });
    }
  }

  toJS(): unknown {
    return this.doc.toJS() ?? {};
  }

  /** Line of the deepest existing node on `path` (1 when nothing matches). */
  lineOf(path: readonly PropertyKey[]): number {
    for (let n = path.length; n >= 0; n--) {
      const node = n === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, n) as unknown[], true);
      if (isNode(node) && node.range) return this.lines.linePos(node.range[0]).line;
    }
    return 1;
  }
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('') || '(root)';
}
