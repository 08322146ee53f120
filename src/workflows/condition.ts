/**
 * The condition of an `if` step: `<field> <op> <value>` on the event data (`amount >= 1000`,
 * `plan == pro`) or `answer.<ask id> <op> <answer>` on an earlier ask (`answer.confirm == no`;
 * `timeout` when no answer came). Operators: == != > >= < <= (the ordering ones for numbers only).
 */
import type { Path, WorkflowSource } from './source.js';
import { COMPARISONS, type Comparison, type Condition, type DataSchema } from './types.js';

const SHAPE = /^\s*(answer\.)?([\w.-]+)\s*(==|!=|>=|<=|>|<)\s*(.+?)\s*$/;

function literal(text: string): string | number | boolean {
  const quoted = /^(['"])(.*)\1$/.exec(text);
  if (quoted) return quoted[2] ?? '';
  if (text === 'true' || text === 'false') return text === 'true';
  const n = Number(text);
  return text !== '' && Number.isFinite(n) ? n : text;
}

export function readCondition(src: WorkflowSource, path: Path, value: unknown, data: DataSchema, asks: ReadonlyMap<string, readonly string[]>): Condition | undefined {
  const m = typeof value === 'string' ? SHAPE.exec(value) : null;
  if (!m) {
    src.problem(path, `${JSON.stringify(value)} is not a condition: write "<data field> <op> <value>" (e.g. "amount >= 1000") or "answer.<ask id> == <answer>"; op is ${COMPARISONS.join(' ')}`);
    return undefined;
  }
  const [, answerPrefix, name = '', opText = '==', raw = ''] = m;
  const op = opText as Comparison;
  const source = String(value).trim();
  const ordering = op !== '==' && op !== '!=';
  if (answerPrefix) {
    const answers = asks.get(name);
    if (!answers) {
      const known = [...asks.keys()];
      src.problem(path, `answer.${name}: no ask step "${name}" before this if (${known.length ? `asks so far: ${known.join(', ')}` : 'there is none'})`);
      return undefined;
    }
    const v = literal(raw);
    if (ordering || typeof v !== 'string' || ![...answers, 'timeout'].includes(v)) {
      src.problem(path, `answer.${name} is compared with == or != to one of its answers: ${[...answers, 'timeout'].join(', ')}`);
      return undefined;
    }
    return { left: { answerOf: name }, op, value: v, source };
  }
  const field = data[name];
  if (!field) {
    const fields = Object.keys(data);
    src.problem(path, `${name} is not a field of the trigger's data (${fields.length ? `it has ${fields.join(', ')}` : 'it has none'})`);
    return undefined;
  }
  const v = literal(raw);
  switch (field.type) {
    case 'number':
    case 'integer':
      if (typeof v !== 'number') return void src.problem(path, `${name} is a number: compare it with a number`);
      break;
    case 'boolean':
      if (typeof v !== 'boolean' || ordering) return void src.problem(path, `${name} is a boolean: write ${name} == true or ${name} == false`);
      break;
    case 'string':
      if (ordering) return void src.problem(path, `${name} is a string: compare it with == or !=`);
      return { left: { field: name }, op, value: String(v), source };
    case 'datetime':
      return void src.problem(path, `${name} is a datetime: time a step with wait: { until: "${name} - 1d" } instead of comparing it`);
  }
  return { left: { field: name }, op, value: v, source };
}

/** Whether `c` holds for this data and these answers (an unset field or unasked ask: false, except with !=). */
export function evaluate(c: Condition, data: Readonly<Record<string, unknown>>, answers: Readonly<Record<string, string>>): boolean {
  const left = 'field' in c.left ? data[c.left.field] : answers[c.left.answerOf];
  if (left === undefined) return c.op === '!=';
  switch (c.op) {
    case '==':
      return left === c.value;
    case '!=':
      return left !== c.value;
    case '>':
      return typeof left === 'number' && typeof c.value === 'number' && left > c.value;
    case '>=':
      return typeof left === 'number' && typeof c.value === 'number' && left >= c.value;
    case '<':
      return typeof left === 'number' && typeof c.value === 'number' && left < c.value;
    case '<=':
      return typeof left === 'number' && typeof c.value === 'number' && left <= c.value;
  }
}
