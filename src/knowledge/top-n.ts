/** Indices of the `n` highest scores, best first (ties keep the lower index first). */
export function topN(scores: Float64Array, n: number): number[] {
  const top: number[] = [];
  if (n <= 0) return top;
  // Every index in `top` is < scores.length.
  const byScore = (a: number, b: number): number => scores[b]! - scores[a]!;
  for (let e = 0; e < scores.length; e++) {
    const score = scores[e]!;
    if (top.length < n) {
      top.push(e);
      top.sort(byScore);
    } else if (score > scores[top[n - 1]!]!) {
      top[n - 1] = e;
      top.sort(byScore);
    }
  }
  return top;
}
