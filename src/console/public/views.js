// The console's views: sign-in, the inbox list and one conversation (Preact + htm, no build step).
import { h } from 'preact';
import { useState } from 'preact/hooks';
import htm from 'htm';
import { t, ago, time } from './i18n.js';
import { call, key, page } from './api.js';

export const html = htm.bind(h);

export function Login() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const submit = async (ev) => {
    ev.preventDefault();
    const form = new FormData(ev.target);
    setBusy(true);
    setError('');
    try {
      await call('POST', '/console/login', { token: String(form.get('token') ?? ''), name: String(form.get('name') ?? '') });
      location.href = page.next;
    } catch (err) {
      setError(err.message);
      setBusy(false);
    }
  };
  return html`<main class="login">
    <form onSubmit=${submit} class="card" aria-labelledby="login-title">
      <h1 id="login-title">${t('signInTitle')}</h1>
      <label for="token">${t('token')}</label>
      <input id="token" name="token" type="password" autocomplete="current-password" required autofocus />
      <label for="name">${t('displayName')}</label>
      <input id="name" name="name" type="text" autocomplete="name" maxlength="80" />
      <p class="error" role="alert" aria-live="assertive">${error}</p>
      <button type="submit" class="primary" disabled=${busy}>${busy ? t('signingIn') : t('signIn')}</button>
    </form>
  </main>`;
}

/** The customer's name, else the channel identity (a web chat visitor has only an id). */
export const customerLabel = (name, identities) => name ?? `${t('visitor')} ${identities[0]?.name ?? identities[0]?.id.slice(0, 8) ?? ''}`;
const reasonText = (r) => t(`reason_${r}`);

const badge = (channel) => html`<span class=${`badge ch-${channel}`}>${channel}</span>`;
const statusBadge = (s) => html`<span class=${`badge st-${s}`}>${t(s)}</span>`;

export function Filters({ filter, setFilter, channels }) {
  const set = (k) => (ev) => setFilter({ ...filter, [k]: ev.target.value });
  return html`<form class="filters" role="search" aria-label=${t('filters')} onSubmit=${(e) => e.preventDefault()}>
    <label>${t('status')}
      <select value=${filter.status} onChange=${set('status')}>
        ${['open', 'waiting_agent', 'agent', 'resolved'].map((s) => html`<option value=${s}>${t(s)}</option>`)}
      </select></label>
    <label>${t('channel')}
      <select value=${filter.channel} onChange=${set('channel')}>
        <option value="">${t('any')}</option>
        ${channels.map((c) => html`<option value=${c}>${c}</option>`)}
      </select></label>
    <label>${t('assignee')}
      <select value=${filter.assignee} onChange=${set('assignee')}>
        <option value="">${t('anyone')}</option><option value="me">${t('me')}</option><option value="none">${t('unassigned')}</option>
      </select></label>
    <label class="grow">${t('search')}
      <input type="search" value=${filter.q} placeholder=${t('searchHint')} onInput=${set('q')} /></label>
  </form>`;
}

export function List({ items, selected, select, now }) {
  if (!items.length) return html`<p class="empty">${t('empty')}</p>`;
  return html`<ul class="cases" aria-label=${t('conversations')}>
    ${items.map(
      (c) => html`<li key=${c.id}>
        <button type="button" class=${`case${c.id === selected ? ' selected' : ''}`} aria-current=${c.id === selected ? 'true' : undefined} onClick=${() => select(c.id)}>
          <span class="row"><strong class="name">${customerLabel(c.customerName, c.identities)}</strong>${badge(c.channel)}${c.priority === 'high' || c.reason === 'angry' ? html`<span class="badge urgent">${t('high')}</span>` : ''}</span>
          <span class="row muted">${statusBadge(c.status)}<span>${t('waiting')} ${ago(c.waitingSince, now)}</span>${c.assignee ? html`<span>· ${c.assignee.replace(/^console:/, '')}</span>` : ''}</span>
          <span class="last">${c.lastText}</span>
        </button>
      </li>`,
    )}
  </ul>`;
}

function author(m) {
  if (m.author === 'customer') return t('customer');
  if (m.author === 'bot') return t('botName');
  if (m.author === 'system') return t('system');
  return m.authorName ?? 'agent';
}

export function Detail({ view, back, onDone, me }) {
  const c = view.conversation;
  const [text, setText] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [propose, setPropose] = useState(null);
  const [notice, setNotice] = useState('');
  const act = async (name, body) => {
    setBusy(true);
    setError('');
    try {
      await call('POST', `/console/api/conversations/${c.id}/${name}`, body);
      if (name === 'reply' || name === 'note') setText('');
      if (name === 'propose') {
        setPropose(null);
        setNotice(t('saved'));
      }
      onDone();
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };
  const lastAgentReply = [...view.history].reverse().find((m) => m.author === 'agent' && m.conversationId === c.id)?.text ?? '';
  return html`<article class="detail" aria-labelledby="conv-title">
    <header class="detail-head">
      <button type="button" class="back" onClick=${back}>← ${t('back')}</button>
      <h2 id="conv-title">${customerLabel(view.customer.displayName, view.identities)}</h2>
      <p class="row">${badge(c.channel)}${statusBadge(c.status)}${c.assignee ? html`<span>${t('assignedTo')}: ${c.assignee.replace(/^console:/, '')}</span>` : ''}
        ${c.reason ? html`<span class="muted">${t('reason')}: ${reasonText(c.reason)}</span>` : ''}
        ${c.csat !== null ? html`<span class="badge csat">${t('csat')}: ${c.csat}/5</span>` : c.csatPending ? html`<span class="muted">${t('csatPending')}</span>` : ''}</p>
      <div class="actions" role="group" aria-label=${t('actions')}>
        <button type="button" disabled=${busy || c.status === 'resolved' || c.assignee === me.id} onClick=${() => act('claim')}>${t('claim')}</button>
        <button type="button" disabled=${busy || c.status === 'resolved'} onClick=${() => act('resolve')}>${t('resolve')}</button>
        <button type="button" disabled=${busy || c.status === 'bot'} onClick=${() => act('return')}>${t('returnToBot')}</button>
        <button type="button" disabled=${busy} onClick=${() => setPropose({ question: view.lastQuestion, answer: text || lastAgentReply })}>${t('saveAnswer')}</button>
      </div>
      <p class="error" role="alert">${error}</p><p class="ok" role="status">${notice}</p>
    </header>
    ${propose &&
    html`<form class="card propose" onSubmit=${(e) => {
      e.preventDefault();
      act('propose', { ...propose, locale: view.customerLocale, key: key() });
    }}>
      <label for="pq">${t('question')}</label><input id="pq" required value=${propose.question} onInput=${(e) => setPropose({ ...propose, question: e.target.value })} />
      <label for="pa">${t('answer')}</label><textarea id="pa" required rows="3" value=${propose.answer} onInput=${(e) => setPropose({ ...propose, answer: e.target.value })}></textarea>
      <div class="actions"><button type="submit" class="primary" disabled=${busy}>${t('save')}</button><button type="button" onClick=${() => setPropose(null)}>${t('cancel')}</button></div>
    </form>`}
    <section aria-labelledby="sum-h" class="card"><h3 id="sum-h">${t('summary')}</h3><p>${view.summary}</p></section>
    <section aria-labelledby="sug-h" class="card"><h3 id="sug-h">${t('suggestions')}</h3>
      ${view.suggestions.length
        ? html`<ul class="suggestions">${view.suggestions.map(
            (s) => html`<li><button type="button" class="link" onClick=${() => setText(s.answer)} aria-label=${`${t('use')}: ${s.answer}`}>${t('use')}</button> <span>${s.answer}</span></li>`,
          )}</ul>`
        : html`<p class="muted">${t('noSuggestions')}</p>`}
    </section>
    <section aria-labelledby="hist-h" class="history"><h3 id="hist-h">${t('history')}</h3>
      <ol>${view.history.map(
        (m) => html`<li key=${m.id} class=${`msg from-${m.author}${m.conversationId === c.id ? '' : ' other'}`}>
          <span class="meta">${badge(m.channel)} <strong>${author(m)}</strong> <time datetime=${new Date(m.at).toISOString()}>${time(m.at)}</time>${m.deliveryStatus === 'failed' ? html` <span class="badge urgent">${t('failed')}</span>` : ''}</span>
          <span class="text">${m.text}</span>
          ${m.attachments.length ? html`<ul class="files">${m.attachments.map((a) => html`<li>📎 ${a.url ? html`<a href=${a.url} target="_blank" rel="noopener noreferrer">${a.name}</a>` : a.name}</li>`)}</ul>` : ''}</li>`,
      )}</ol>
    </section>
    ${view.notes.length ? html`<section aria-labelledby="notes-h" class="card notes"><h3 id="notes-h">${t('notes')}</h3><ul>${view.notes.map((n) => html`<li><span class="muted">${n.actor.replace(/^agent:(console:)?/, '')} · ${time(n.at)}</span> ${n.text}</li>`)}</ul></section>` : ''}
    <form class="compose" onSubmit=${(e) => {
      e.preventDefault();
      act('reply', { text, key: key() });
    }}>
      <label for="reply">${t('reply')}</label>
      <textarea id="reply" rows="3" value=${text} onInput=${(e) => setText(e.target.value)} onKeyDown=${(e) => {
        if (e.key === 'Enter' && (e.ctrlKey || e.metaKey) && text.trim()) act('reply', { text, key: key() });
      }}></textarea>
      <div class="actions">
        <button type="submit" class="primary" disabled=${busy || !text.trim()}>${t('send')}</button>
        <button type="button" disabled=${busy || !text.trim()} onClick=${() => act('note', { text, key: key() })}>${t('addNote')}</button>
      </div>
    </form>
    <section aria-labelledby="prof-h" class="card"><h3 id="prof-h">${t('profile')}</h3>
      <dl>
        ${view.customer.externalId ? html`<dt>ID</dt><dd>${view.customer.externalId}</dd>` : ''}
        ${view.customer.locale ? html`<dt>Locale</dt><dd>${view.customer.locale}</dd>` : ''}
        <dt>${t('identities')}</dt>
        <dd><ul>${view.identities.map((i) => html`<li>${badge(i.channel)} ${i.name ?? ''} <code>${i.id}</code>${i.unreachable ? html` <span class="badge urgent">${t('unreachable')}</span>` : ''}</li>`)}</ul></dd>
      </dl>
    </section>
  </article>`;
}
