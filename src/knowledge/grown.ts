/** A typed array at least `atLeast` long (doubling), holding `a`'s values: the build buffers' growth. */
export function grown<T extends Int32Array | Float32Array | Uint8Array>(a: T, atLeast: number): T {
  const b = new (a.constructor as new (length: number) => T)(Math.max(atLeast, a.length * 2));
  b.set(a);
  return b;
}
