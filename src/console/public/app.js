// The console's entry: sign-in, or the inbox with live updates (SSE, /console/events).
import { render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { t } from './i18n.js';
import { call, page } from './api.js';
import { Detail, Filters, List, Login, html } from './views.js';

function Inbox() {
  const [me, setMe] = useState(page.me ?? { name: '', displayName: '', roles: [] });
  const [filter, setFilter] = useState({ status: 'open', channel: '', assignee: '', q: '' });
  const [items, setItems] = useState([]);
  const [channels, setChannels] = useState([]);
  const [selected, setSelected] = useState(new URLSearchParams(location.hash.slice(1)).get('c') ?? '');
  const [view, setView] = useState(null);
  const [live, setLive] = useState(false);
  const [error, setError] = useState('');
  const [now, setNow] = useState(Date.now());
  const state = useRef({ filter, selected });
  state.current = { filter, selected };

  const loadList = useCallback(async () => {
    const f = state.current.filter;
    const qs = new URLSearchParams(Object.entries(f).filter(([, v]) => v));
    try {
      const data = await call('GET', `/console/api/inbox?${qs}`);
      setItems(data.items);
      setChannels(data.channels);
      setError('');
    } catch (err) {
      setError(err.message);
    }
  }, []);
  const loadView = useCallback(async () => {
    const id = state.current.selected;
    if (!id) return setView(null);
    try {
      const v = await call('GET', `/console/api/conversations/${encodeURIComponent(id)}?lang=${document.documentElement.lang.startsWith('zh') ? 'zh' : 'en'}`);
      if (state.current.selected === id) setView(v);
    } catch (err) {
      setError(err.message);
    }
  }, []);

  useEffect(() => {
    call('GET', '/console/api/me').then((m) => setMe((old) => ({ ...old, ...m })), () => undefined);
    const tick = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(tick);
  }, []);
  useEffect(() => {
    const timer = setTimeout(loadList, filter.q ? 250 : 0);
    return () => clearTimeout(timer);
  }, [filter]);
  useEffect(() => {
    history.replaceState(null, '', selected ? `#c=${selected}` : location.pathname);
    setView(null);
    loadView();
  }, [selected]);
  useEffect(() => {
    let pending;
    const es = new EventSource('/console/events');
    es.onopen = () => setLive(true);
    es.onerror = () => setLive(false);
    es.onmessage = (ev) => {
      const e = JSON.parse(ev.data);
      // A burst of events is one list fetch (at most two a second per browser).
      if (!pending) {
        pending = setTimeout(() => {
          pending = undefined;
          loadList();
        }, 500);
      }
      if (e.conversationId === state.current.selected) loadView();
    };
    es.addEventListener('hello', () => {
      setLive(true);
      loadList();
    });
    return () => es.close();
  }, []);

  const signOut = async () => {
    await call('POST', '/console/logout').catch(() => undefined);
    location.href = '/console/login';
  };
  const admin = (me.roles ?? []).includes('admin');
  return html`<div class=${`shell${selected ? ' has-detail' : ''}`}>
    <a class="skip" href="#main">${t('skip')}</a>
    <header class="top">
      <h1>${t('title')}</h1>
      <nav aria-label=${t('title')}>
        <a href="/console" aria-current="page">${t('inbox')}</a>
        ${admin ? html`<a href="/console/dashboard">${t('dashboard')}</a><a href="/console/queues">${t('queues')}</a><a href="/console/settings">${t('settings')}</a>` : ''}
      </nav>
      <span class=${`live${live ? ' on' : ''}`} role="status">${live ? t('live') : t('offline')}</span>
      <span class="who">${me.displayName}</span>
      <button type="button" onClick=${signOut}>${t('signOut')}</button>
    </header>
    <p class="error" role="alert">${error}</p>
    <main id="main" class="panes">
      <section class="list-pane" aria-label=${t('inbox')}>
        <${Filters} filter=${filter} setFilter=${setFilter} channels=${channels} />
        <${List} items=${items} selected=${selected} select=${setSelected} now=${now} />
      </section>
      <section class="detail-pane" aria-live="polite">
        ${view ? html`<${Detail} key=${view.conversation.id} view=${view} me=${me} back=${() => setSelected('')} onDone=${() => { loadView(); loadList(); }} />` : html`<p class="empty">${t('choose')}</p>`}
      </section>
    </main>
  </div>`;
}

render(page.view === 'login' ? html`<${Login} />` : html`<${Inbox} />`, document.getElementById('app'));
