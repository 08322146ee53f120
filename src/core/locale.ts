/** Locale handling shared by the core and the bot: `zh` for Chinese text, else the hint or `en`. */
const CJK = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/;

export function hasCjk(text: string): boolean {
  return CJK.test(text);
}

/** Normalizes a platform/browser hint (`zh-CN`, `zh_TW`, `en-US`) to `zh` or `en`. */
export function normalizeLocale(hint: string | undefined | null): 'zh' | 'en' | undefined {
  if (!hint) return undefined;
  const l = hint.toLowerCase();
  if (l.startsWith('zh')) return 'zh';
  if (l.startsWith('en')) return 'en';
  return undefined;
}

/** Text wins over the hint: a customer writing Chinese gets Chinese back. */
export function detectLocale(text: string, hint?: string | null): 'zh' | 'en' {
  if (hasCjk(text)) return 'zh';
  if (/[a-z]{2,}/i.test(text)) return 'en';
  return normalizeLocale(hint) ?? 'en';
}
