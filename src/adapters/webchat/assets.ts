import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebchatConfig } from './config.js';

/** The page assets in ./public, read once at mount and served with ETags. */

export interface Asset {
  body: Buffer;
  contentType: string;
  etag: string;
  cacheControl: string;
}

const PUBLIC_DIR = new URL('./public/', import.meta.url);

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function asset(body: Buffer, ext: string, cacheControl: string): Asset {
  return {
    body,
    contentType: TYPES[ext] ?? 'application/octet-stream',
    etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    cacheControl,
  };
}

export interface PageAssets {
  page: Asset;
  widget: Asset;
  /** By file name under /webchat/. */
  files: Map<string, Asset>;
}

/** Loads the assets; the page gets the configured titles as data attributes (HTML-escaped). */
export async function loadAssets(title: WebchatConfig['title']): Promise<PageAssets> {
  const read = (name: string) => readFile(new URL(name, PUBLIC_DIR));
  const html = (await read('index.html'))
    .toString('utf8')
    .replace('{{TITLE_ZH}}', escapeHtml(title?.zh ?? ''))
    .replace('{{TITLE_EN}}', escapeHtml(title?.en ?? ''));
  const widget = await read('widget.js');
  const css = await read('widget.css');
  const icon = await read('favicon.svg');
  // The page is revalidated every time (it may set the cookie); the embed script is short-lived so
  // a fix reaches embedding sites soon; CSS is versioned by ETag and kept an hour.
  const script = asset(widget, 'js', 'public, max-age=300');
  return {
    page: asset(Buffer.from(html, 'utf8'), 'html', 'no-cache'),
    widget: script,
    files: new Map([
      ['widget.css', asset(css, 'css', 'public, max-age=3600')],
      ['widget.js', script],
      ['favicon.svg', asset(icon, 'svg', 'public, max-age=86400')],
    ]),
  };
}

export function serveAsset(req: IncomingMessage, res: ServerResponse, a: Asset, extra: Record<string, string> = {}): void {
  const headers: Record<string, string> = {
    'content-type': a.contentType,
    'cache-control': a.cacheControl,
    etag: a.etag,
    'x-content-type-options': 'nosniff',
    ...extra,
  };
  if (req.headers['if-none-match'] === a.etag) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  res.writeHead(200, { ...headers, 'content-length': String(a.body.length) });
  res.end(req.method === 'HEAD' ? undefined : a.body);
}
