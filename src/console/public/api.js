// Calls to the hub: same origin, the session cookie, and the CSRF token on every state change.
const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content ?? '';
export const page = { view: meta('sb-view'), csrf: meta('sb-csrf'), me: JSON.parse(meta('sb-me') || 'null'), next: meta('sb-next') || '/console' };

export async function call(method, path, body) {
  const res = await fetch(path, {
    method,
    credentials: 'same-origin',
    headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(method !== 'GET' ? { 'x-csrf-token': page.csrf } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (res.status === 401 && !path.endsWith('/login')) {
    location.href = `/console/login?next=${encodeURIComponent(location.pathname)}`;
    throw new Error('signed out');
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error || data.message || `HTTP ${res.status}`);
  return data;
}

export const key = () => (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(36).slice(2));
