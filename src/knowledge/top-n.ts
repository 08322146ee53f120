/** Indices of the `n` highest scores, best first (ties keep the lower index first). */
export function topN(scores: Float64Array, n: number): number[] {
  const top: number[] = [];
  for (let e = 0; e < scores.length; e++) {
    if (top.length < n) {
      top.push(e);
      top.sort((a, b) => scores[b] - scores[a]);
    } else if (scores[e] > scores[top[n - 1]]) {
      top[n - 1] = e;
      top.sort((a, b) => scores[b] - scores[a]);
    }
  }
  return top;
}
