/**
 * The console's front end: one HTML shell (login and inbox views), its script and stylesheet from
 * `public/`, and Preact + htm as ES modules read straight from node_modules (no build step, no
 * bundle), mapped by an import map. Everything is read once at start-up and served with an ETag.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

export const ASSETS = '/console/assets';

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function asset(body: Buffer | string, type: string): Asset {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  return { body: b, type, etag: `"${createHash('sha256').update(b).digest('base64url').slice(0, 22)}"` };
}

const JS = 'text/javascript; charset=utf-8';

/** Preact, its hooks and htm: each package's ES module build, found through the package's own entry. */
function vendor(): Record<string, Asset> {
  const require = createRequire(import.meta.url);
  const moduleOf = (spec: string, file: string) => readFileSync(join(dirname(require.resolve(spec)), file));
  return {
    'vendor/preact.js': asset(moduleOf('preact', 'preact.module.js'), JS),
    'vendor/hooks.js': asset(moduleOf('preact/hooks', 'hooks.module.js'), JS),
    'vendor/htm.js': asset(moduleOf('htm', 'htm.module.js'), JS),
  };
}

export const IMPORT_MAP = JSON.stringify({
  imports: { preact: `${ASSETS}/vendor/preact.js`, 'preact/hooks': `${ASSETS}/vendor/hooks.js`, htm: `${ASSETS}/vendor/htm.js` },
});
const IMPORT_MAP_HASH = createHash('sha256').update(IMPORT_MAP).digest('base64');

/** The shell's Content-Security-Policy: own scripts, the import map by its hash, nothing inline else. */
export const CSP = [
  "default-src 'self'",
  `script-src 'self' 'sha256-${IMPORT_MAP_HASH}'`,
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

export function registerAssets(app: FastifyInstance): void {
  const here = join(dirname(fileURLToPath(import.meta.url)), 'public');
  const own = ['app.js', 'views.js', 'i18n.js', 'api.js'].map((f) => [f, asset(readFileSync(join(here, f)), JS)] as const);
  const files: Record<string, Asset> = {
    ...Object.fromEntries(own),
    'app.css': asset(readFileSync(join(here, 'app.css')), 'text/css; charset=utf-8'),
    ...vendor(),
  };
  app.get<{ Params: { '*': string } }>(`${ASSETS}/*`, async (request, reply) => {
    const a = Object.hasOwn(files, request.params['*']) ? files[request.params['*']] : undefined;
    if (!a) return reply.code(404).send({ error: `not found: ${request.url}` });
    void reply.header('cache-control', 'no-cache').header('etag', a.etag).header('x-content-type-options', 'nosniff');
    if (request.headers['if-none-match'] === a.etag) return reply.code(304).send();
    return reply.type(a.type).send(a.body);
  });
}

/** Text for HTML (element content and quoted attributes). */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The HTML shell; the script reads the view, CSRF token and caller from its meta tags. */
export function shell(o: { view: 'login' | 'inbox'; csrf: string; lang: 'zh' | 'en'; me?: unknown; next?: string }): string {
  const title = o.lang === 'zh' ? 'Switchboard 客服台' : 'Switchboard console';
  return `<!doctype html>
<html lang="${o.lang === 'zh' ? 'zh-CN' : 'en'}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<meta name="sb-view" content="${o.view}">
<meta name="sb-csrf" content="${esc(o.csrf)}">
<meta name="sb-me" content="${esc(JSON.stringify(o.me ?? null))}">
<meta name="sb-next" content="${esc(o.next ?? '/console')}">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${ASSETS}/app.css">
<script type="importmap">${IMPORT_MAP}</script>
<script type="module" src="${ASSETS}/app.js"></script>
</head>
<body><div id="app"><noscript>${o.lang === 'zh' ? '请启用 JavaScript。' : 'Please enable JavaScript.'}</noscript></div></body>
</html>
`;
}
