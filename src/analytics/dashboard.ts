/**
 * The dashboard at `GET /console/dashboard` (the injected guard, role admin): one HTML page whose
 * ES modules (./public: Preact + htm components, Apache ECharts charts) are served by the hub from
 * `/console/analytics/assets/` out of node_modules, no CDN and no build step. The page reads the
 * numbers from `/api/analytics/*` with the same sign-in.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { Guard } from './guard.js';

export const DASHBOARD_PATH = '/console/dashboard';
export const ASSETS_PATH = '/console/analytics/assets';

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

function packageDir(name: string): string {
  // htm exports no package.json: its main file sits in dist/.
  return name === 'htm' ? dirname(dirname(require.resolve('htm'))) : dirname(require.resolve(`${name}/package.json`));
}

function asset(body: Buffer | string, type: string): Asset {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  return { body: b, type, etag: `"${createHash('sha256').update(b).digest('base64url').slice(0, 22)}"` };
}

const JS = 'text/javascript; charset=utf-8';

/** The files under /console/analytics/assets/, read once. */
export function loadAssets(): Map<string, Asset> {
  const out = new Map<string, Asset>();
  for (const f of ['app.js', 'charts.js', 'i18n.js']) out.set(f, asset(readFileSync(join(here, 'public', f)), JS));
  out.set('dashboard.css', asset(readFileSync(join(here, 'public', 'dashboard.css')), 'text/css; charset=utf-8'));
  out.set('preact.js', asset(readFileSync(join(packageDir('preact'), 'dist', 'preact.module.js')), JS));
  // The hooks import the bare specifier "preact": point it at our copy (no import map needed, so the CSP stays strict).
  const hooks = readFileSync(join(packageDir('preact'), 'hooks', 'dist', 'hooks.module.js'), 'utf8').replace(/from\s*(["'])preact\1/g, 'from"./preact.js"');
  out.set('hooks.js', asset(hooks, JS));
  out.set('htm.js', asset(readFileSync(join(packageDir('htm'), 'dist', 'htm.module.js')), JS));
  out.set('echarts.js', asset(readFileSync(join(packageDir('echarts'), 'dist', 'echarts.esm.min.js')), JS));
  return out;
}

function page(lang: 'en' | 'zh-CN'): string {
  const title = lang === 'zh-CN' ? '服务分析 · Switchboard' : 'Service analytics · Switchboard';
  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<link rel="stylesheet" href="${ASSETS_PATH}/dashboard.css">
<script type="module" src="${ASSETS_PATH}/app.js"></script>
</head>
<body>
<div id="app"><p role="status">${lang === 'zh-CN' ? '加载中…' : 'Loading…'}</p></div>
<noscript>${lang === 'zh-CN' ? '仪表板需要 JavaScript。' : 'The dashboard needs JavaScript.'}</noscript>
</body>
</html>
`;
}

/** zh-CN when the browser prefers Chinese (Accept-Language), else English. */
export function pageLang(acceptLanguage: string | undefined): 'en' | 'zh-CN' {
  const first = (acceptLanguage ?? '').split(',')[0]?.trim().toLowerCase() ?? '';
  return first.startsWith('zh') ? 'zh-CN' : 'en';
}

const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

export function mountDashboard(app: FastifyInstance, d: { guard: Guard }): void {
  const assets = loadAssets();
  app.get(DASHBOARD_PATH, async (request, reply) => {
    if (!(await d.guard(request, reply, 'admin'))) return reply;
    return reply
      .type('text/html; charset=utf-8')
      .header('content-security-policy', CSP)
      .header('cache-control', 'no-store')
      .header('x-content-type-options', 'nosniff')
      .send(page(pageLang(request.headers['accept-language'])));
  });
  // Library code and our page scripts: nothing secret, cached and revalidated by ETag.
  app.get<{ Params: { file: string } }>(`${ASSETS_PATH}/:file`, async (request, reply) => {
    const a = assets.get(request.params.file);
    if (!a) return reply.code(404).send({ error: 'not found' });
    reply.header('etag', a.etag).header('cache-control', 'public, max-age=300, must-revalidate').header('x-content-type-options', 'nosniff');
    if (request.headers['if-none-match'] === a.etag) return reply.code(304).send();
    return reply.type(a.type).send(a.body);
  });
}
