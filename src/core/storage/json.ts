import type { JsonObject } from '../types.js';

export function parseJson<T>(text: string | null | undefined, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export function parseObject(text: string | null | undefined): JsonObject {
  const v = parseJson<unknown>(text, {});
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as JsonObject) : {};
}
