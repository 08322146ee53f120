/**
 * Splits a reply into parts no longer than `max` characters, preferring paragraph, line, sentence
 * and word boundaries, never splitting a surrogate pair.
 */
export function splitText(text: string, max: number): string[] {
  if (max <= 0) throw new RangeError('max must be positive');
  const parts: string[] = [];
  let rest = text;
  while (rest.length > max) {
    let cut = bestCut(rest, max);
    const code = rest.charCodeAt(cut - 1);
    if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
    const head = rest.slice(0, cut).trimEnd();
    parts.push(head.length > 0 ? head : rest.slice(0, cut));
    rest = rest.slice(cut).trimStart();
  }
  if (rest.length > 0 || parts.length === 0) parts.push(rest);
  return parts;
}

function bestCut(text: string, max: number): number {
  const window = text.slice(0, max + 1);
  const minUseful = Math.floor(max * 0.5);
  for (const sep of ['\n\n', '\n', '。', '！', '？', '. ', '! ', '? ', '；', '; ', '，', ', ', ' ']) {
    const at = window.lastIndexOf(sep);
    if (at >= minUseful) return Math.min(at + sep.length, max);
  }
  return max;
}
