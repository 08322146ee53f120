/** `${ENV_VAR}` (and `${ENV_VAR:-default}`) references: secrets never live in config files. */
const REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

export interface MissingEnv {
  path: PropertyKey[];
  variable: string;
}

/** Returns a copy of `value` with references replaced; unset variables are collected (and left as written), not thrown. */
export function substituteEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  missing: MissingEnv[],
  path: PropertyKey[] = [],
): unknown {
  if (typeof value === 'string') {
    return value.replace(REF, (_m, name: string, fallback: string | undefined) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (fallback !== undefined) return fallback;
      missing.push({ path, variable: name });
      // Keep the reference: a disabled section validates, an enabled one is reported by name.
      return `\${${name}}`;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, missing, [...path, i]));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteEnv(v, env, missing, [...path, k]);
    return out;
  }
  return value;
}
