/**
 * The settings read-out for admins (`GET /console/settings`, and `GET /console/api/settings` as
 * JSON): what this hub runs with — hub.yaml as loaded (defaults filled in) and what it runs now
 * (channels with their capabilities, the desk, the workflows loaded). Nothing secret leaves the
 * hub: a value under a key that names a secret (token, secret, password, key, hash…) is shown only
 * as set or not set, and a URL shows only its scheme and host (no user, password, path or query).
 * Read-only: hub.yaml is changed in the file.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { esc } from './assets.js';
import { pageLang } from './auth.js';
import type { ConsoleGuard } from './guard.js';

/** What the hub runs now, besides its configuration. */
export interface RuntimeSettings {
  channels: { name: string; connection: string; capabilities: Record<string, unknown> }[];
  desk: string;
  workflows: { name: string; trigger: string }[];
}

export interface SettingsDeps {
  guard: ConsoleGuard;
  config(): unknown;
  runtime(): RuntimeSettings;
}

const SECRET = /(secret|token|password|passwd|apikey|api_key|privatekey|sha256|hash|cookie|signing|key$)/i;

/**
 * A URL shown without what may be a credential: no user and password, and no path or query (a
 * webhook's path often holds a token): `https://hooks.example.com/…`. A SQLite path stays.
 */
function withoutCredentials(s: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return s;
  try {
    const u = new URL(s);
    const more = (u.pathname && u.pathname !== '/') || u.search ? '/…' : '';
    return `${u.protocol}//${u.host}${more}`;
  } catch {
    return s.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@\s]+@/i, '$1');
  }
}

/** `value` with every secret replaced by whether it is set, and credentials cut from URLs. */
export function redact(value: unknown, key = ''): unknown {
  if (SECRET.test(key) && !Array.isArray(value) && (value === null || typeof value !== 'object')) {
    return value === undefined || value === null || value === '' ? '(not set)' : '(set)';
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, key.endsWith('s') ? key.slice(0, -1) : key));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redact(v, k)]));
  return typeof value === 'string' ? withoutCredentials(value) : value;
}

/** Flattens an object into `a.b.c` rows. */
function rows(value: unknown, prefix = ''): [string, string][] {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) return [[prefix, '{}']];
    return entries.flatMap(([k, v]) => rows(v, prefix ? `${prefix}.${k}` : k));
  }
  return [[prefix, typeof value === 'string' ? value : JSON.stringify(value)]];
}

const TEXT = {
  en: { title: 'Settings', note: 'What this hub runs with (read-only: change hub.yaml and restart). Secrets show only as set or not set.', channels: 'Channels', desk: 'Agent desk', workflows: 'Workflows', config: 'hub.yaml as loaded', name: 'Name', connection: 'Connection', capabilities: 'Capabilities', trigger: 'Trigger', option: 'Option', value: 'Value', none: 'none', back: 'Back to the inbox' },
  zh: { title: '设置', note: '本服务正在使用的配置（只读：请修改 hub.yaml 后重启）。密钥只显示是否已设置。', channels: '渠道', desk: '坐席台', workflows: '工作流', config: '已加载的 hub.yaml', name: '名称', connection: '连接', capabilities: '能力', trigger: '触发', option: '选项', value: '值', none: '无', back: '返回收件箱' },
} as const;

export function settingsPage(lang: 'zh' | 'en', config: unknown, rt: RuntimeSettings): string {
  const t = TEXT[lang];
  const table = (head: string[], body: string[][]): string =>
    `<table><thead><tr>${head.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead><tbody>${
      body.length ? body.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`).join('') : `<tr><td colspan="${head.length}">${esc(t.none)}</td></tr>`
    }</tbody></table>`;
  return `<!doctype html>
<html lang="${lang === 'zh' ? 'zh-CN' : 'en'}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(t.title)} · Switchboard</title>
<link rel="stylesheet" href="/console/assets/app.css"></head>
<body><main id="main" class="settings">
<p><a href="/console">${esc(t.back)}</a></p>
<h1>${esc(t.title)}</h1><p>${esc(t.note)}</p>
<h2>${esc(t.channels)}</h2>${table([t.name, t.connection, t.capabilities], rt.channels.map((c) => [c.name, c.connection, JSON.stringify(c.capabilities)]))}
<h2>${esc(t.desk)}</h2><p>${esc(rt.desk)}</p>
<h2>${esc(t.workflows)}</h2>${table([t.name, t.trigger], rt.workflows.map((w) => [w.name, w.trigger]))}
<h2>${esc(t.config)}</h2>${table([t.option, t.value], rows(config))}
</main></body></html>`;
}

export function registerSettings(app: FastifyInstance, d: SettingsDeps, page: (reply: FastifyReply) => FastifyReply): void {
  const admin = async (request: FastifyRequest, reply: FastifyReply) => d.guard(request, reply, 'admin');
  app.get('/console/api/settings', async (request, reply) => {
    if (!(await admin(request, reply))) return reply;
    return { config: redact(d.config()), runtime: d.runtime() };
  });
  app.get('/console/settings', async (request, reply) => {
    if (!(await admin(request, reply))) return reply;
    return page(reply).send(settingsPage(pageLang(request), redact(d.config()), d.runtime()));
  });
}
