/** Cooperative chunking: long builds call `await y()` often; it yields to the event loop every few ms. */
export type Yielder = () => Promise<void> | undefined;

export function makeYielder(budgetMs: number | null): Yielder {
  if (budgetMs === null) return () => undefined;
  let last = performance.now();
  return () => {
    const now = performance.now();
    if (now - last < budgetMs) return undefined;
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        last = performance.now();
        resolve();
      }),
    );
  };
}
