/** A tiny cookie-keeping HTTP client for the console's API tests (what a browser does, by hand). */
export class ConsoleClient {
  readonly jar = new Map<string, string>();
  csrf = '';

  constructor(readonly base: string) {}

  cookieHeader(): string {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async request(method: string, path: string, o: { body?: unknown; headers?: Record<string, string>; csrf?: boolean } = {}): Promise<Response> {
    const headers: Record<string, string> = { ...(o.headers ?? {}) };
    if (this.jar.size) headers.cookie = this.cookieHeader();
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    if (o.csrf !== false && method !== 'GET' && this.csrf) headers['x-csrf-token'] = this.csrf;
    const res = await fetch(`${this.base}${path}`, { method, headers, redirect: 'manual', ...(o.body !== undefined ? { body: JSON.stringify(o.body) } : {}) });
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const i = pair!.indexOf('=');
      const name = pair!.slice(0, i);
      const value = pair!.slice(i + 1);
      if (value === '' || /max-age=0|expires=thu, 01 jan 1970/i.test(c)) this.jar.delete(name);
      else this.jar.set(name, value);
    }
    return res;
  }

  /** Loads an HTML page and keeps its CSRF token (meta sb-csrf). */
  async page(path: string): Promise<Response> {
    const res = await this.request('GET', path, { headers: { accept: 'text/html' } });
    if (res.status === 200) {
      const html = await res.clone().text();
      this.csrf = /<meta name="sb-csrf" content="([^"]*)">/.exec(html)?.[1] ?? '';
    }
    return res;
  }

  async signIn(token: string, name?: string): Promise<Response> {
    await this.page('/console/login');
    const res = await this.request('POST', '/console/login', { body: { token, ...(name ? { name } : {}) } });
    if (res.status === 200) await this.page('/console');
    return res;
  }
}
