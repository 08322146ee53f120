import { readdir, readFile } from 'node:fs/promises';

/**
 * Nice values (Linux: field 19 of stat) of this process's threads (`task`: /proc/self/task/<tid>)
 * or of its main thread (`self`).
 */
export async function niceValues(which: 'task' | 'self'): Promise<number[]> {
  const files = which === 'self' ? ['/proc/self/stat'] : (await readdir('/proc/self/task')).map((tid) => `/proc/self/task/${tid}/stat`);
  const out: number[] = [];
  for (const f of files) {
    const stat = await readFile(f, 'utf8').catch(() => '');
    if (stat) out.push(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
  }
  return out;
}
