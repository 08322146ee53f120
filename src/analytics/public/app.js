// The analytics dashboard: filters, KPI cards, charts, tables with CSV links. Preact + htm as
// ES modules served by the hub (no build step); data from GET /api/analytics/*.
import { h, render } from './preact.js';
import { useEffect, useMemo, useState } from './hooks.js';
import htm from './htm.js';
import { t, fmtRate, fmtNum, fmtMs } from './i18n.js';
import { Chart, csatOption, ratesOption, reasonsOption, timesOption, volumeOption } from './charts.js';

const html = htm.bind(h);
const TABLES = ['kpis', 'volume', 'response-times', 'escalations', 'proactive', 'gaps', 'conversations'];
const tz = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

function isoDay(d) {
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 10);
}

function initialFilters() {
  const p = new URLSearchParams(location.search);
  const today = new Date();
  return {
    from: p.get('from') || isoDay(new Date(today.getTime() - 29 * 86_400_000)),
    to: p.get('to') || isoDay(today),
    bucket: p.get('bucket') || 'day',
    channel: p.get('channel') || '',
    tz: p.get('tz') || tz,
  };
}

function query(f, extra = {}) {
  const q = new URLSearchParams({ from: f.from, to: f.to, bucket: f.bucket, tz: f.tz, ...extra });
  if (f.channel) q.set('channel', f.channel);
  return q.toString();
}

async function load(f) {
  const out = {};
  await Promise.all(
    TABLES.map(async (name) => {
      const r = await fetch(`/api/analytics/${name}?${query(f)}`, { credentials: 'same-origin', headers: { accept: 'application/json' } });
      if (!r.ok) throw new Error(`${name}: ${r.status}`);
      out[name] = await r.json();
    }),
  );
  return out;
}

const csvHref = (name, f) => `/api/analytics/${name}?${query(f, { format: 'csv' })}`;
const CsvLink = ({ name, f, label }) => html`<a class="csv" href=${csvHref(name, f)} download="" aria-label=${t.csvOf + label}>${t.csv}</a>`;

function Filters({ f, channels, onApply }) {
  const [draft, setDraft] = useState(f);
  const set = (k) => (e) => setDraft({ ...draft, [k]: e.target.value });
  return html`<form class="filters" onSubmit=${(e) => (e.preventDefault(), onApply(draft))}>
    <label>${t.from} <input type="date" name="from" value=${draft.from} onInput=${set('from')} required /></label>
    <label>${t.to} <input type="date" name="to" value=${draft.to} onInput=${set('to')} required /></label>
    <label>${t.bucket} <select name="bucket" value=${draft.bucket} onChange=${set('bucket')}><option value="day">${t.day}</option><option value="week">${t.week}</option></select></label>
    <label>${t.channel} <select name="channel" value=${draft.channel} onChange=${set('channel')}>
      <option value="">${t.allChannels}</option>
      ${channels.map((c) => html`<option value=${c}>${c}</option>`)}
    </select></label>
    <button type="submit">${t.apply}</button>
  </form>`;
}

function Cards({ d }) {
  const k = d.kpis.totals;
  const rt = d['response-times'].totals;
  const cards = [
    ['cases', t.cases, fmtNum(k.cases)],
    ['bot-resolution', t.botResolution, fmtRate(k.botResolutionRate)],
    ['escalation', t.escalation, fmtRate(k.escalationRate)],
    ['fcr', t.fcr, fmtRate(k.firstContactResolutionRate)],
    ['csat', t.csat, `${fmtNum(k.csatAverage)} (${t.csatResponse} ${fmtRate(k.csatResponseRate)})`],
    ['bot-first', t.botFirst, fmtMs(rt.botFirstResponse.median)],
    ['agent-first', t.agentFirst, fmtMs(rt.agentFirstResponse.median)],
    ['resolution', t.resolution, fmtMs(rt.resolution.median)],
  ];
  return html`<dl class="cards">${cards.map(([id, label, value]) => html`<div class="card" data-kpi=${id}><dt>${label}</dt><dd>${value}</dd></div>`)}</dl>`;
}

/** The console session's CSRF token (GET /console/api/me), for state changes signed in by cookie; '' without a console. */
async function csrfToken() {
  try {
    const r = await fetch('/console/api/me', { credentials: 'same-origin', headers: { accept: 'application/json' } });
    return r.ok ? ((await r.json()).csrfToken ?? '') : '';
  } catch {
    return '';
  }
}

function Gaps({ d, f }) {
  const [drafted, setDrafted] = useState({});
  const draft = async (id) => {
    const r = await fetch(`/api/analytics/gaps/${id}/draft`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': await csrfToken() },
      body: JSON.stringify({ from: f.from, to: f.to, tz: f.tz, ...(f.channel ? { channel: f.channel } : {}) }),
    });
    const body = await r.json();
    setDrafted({ ...drafted, [id]: r.ok ? `${t.drafted}${body.pendingAnswer.id}` : body.error });
  };
  const rows = d.gaps.clusters.slice(0, 20);
  return html`<section aria-labelledby="gaps-h"><h2 id="gaps-h">${t.gaps} <${CsvLink} name="gaps" f=${f} label=${t.gaps} /></h2>
    <p class="help">${t.gapsHelp}</p>
    ${rows.length === 0 ? html`<p>${t.none}</p>` : html`<table id="gaps">
      <thead><tr><th scope="col">${t.topic}</th><th scope="col">${t.count}</th><th scope="col">${t.escalatedCount}</th><th scope="col">${t.examples}</th><th scope="col"><span class="sr">${t.draft}</span></th></tr></thead>
      <tbody>${rows.map((c) => html`<tr>
        <th scope="row">${c.label}</th><td>${c.count}</td><td>${c.escalated}</td>
        <td><ul>${c.examples.map((e) => html`<li>${e}</li>`)}</ul></td>
        <td>${drafted[c.id] ? html`<span role="status">${drafted[c.id]}</span>` : html`<button type="button" onClick=${() => draft(c.id)}>${t.draft}</button>`}</td>
      </tr>`)}</tbody></table>`}
  </section>`;
}

function outcome(c) {
  if (c.resolvedAt !== null) return t.outcomeResolved;
  if (c.escalatedAt !== null) return t.outcomeEscalated;
  return c.botAnswers > 0 ? t.outcomeBot : t.outcomeOpen;
}

function Recent({ d, f }) {
  const rows = d.conversations.rows;
  return html`<section aria-labelledby="recent-h"><h2 id="recent-h">${t.recent} <${CsvLink} name="conversations" f=${f} label=${t.recent} /></h2>
    ${rows.length === 0 ? html`<p>${t.none}</p>` : html`<table id="recent">
      <thead><tr><th scope="col">${t.opened}</th><th scope="col">${t.channel}</th><th scope="col">${t.question}</th><th scope="col">${t.outcome}</th><th scope="col">${t.score}</th></tr></thead>
      <tbody>${rows.slice(0, 20).map((c) => html`<tr><td>${new Date(c.openedAt).toLocaleString()}</td><td>${c.channel}</td><td>${c.question}</td><td>${outcome(c)}</td><td>${c.csatScore ?? '–'}</td></tr>`)}</tbody></table>`}
  </section>`;
}

function Proactive({ d, f }) {
  const rows = d.proactive.rows;
  return html`<section aria-labelledby="proactive-h"><h2 id="proactive-h">${t.proactive} <${CsvLink} name="proactive" f=${f} label=${t.proactive} /></h2>
    ${rows.length === 0 ? html`<p>${t.none}</p>` : html`<table id="proactive">
      <thead><tr><th scope="col">${t.channel}</th><th scope="col">${t.kind}</th><th scope="col">${t.sent}</th><th scope="col">${t.delivered}</th><th scope="col">${t.answered}</th><th scope="col">${t.optedOut}</th></tr></thead>
      <tbody>${rows.map((r) => html`<tr><td>${r.channel}</td><td>${r.kind}</td><td>${r.sent}</td><td>${r.delivered}</td><td>${r.answered}</td><td>${r.optedOut}</td></tr>`)}</tbody></table>`}
  </section>`;
}

function App() {
  const [f, setF] = useState(initialFilters);
  const [d, setD] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setError(null);
    history.replaceState(null, '', `?${query(f)}`);
    load(f).then(setD, (e) => setError(String(e.message || e)));
  }, [f]);
  const options = useMemo(
    () => d && { volume: volumeOption(d.volume), rates: ratesOption(d.kpis), times: timesOption(d['response-times']), csat: csatOption(d.kpis), reasons: reasonsOption(d.escalations) },
    [d],
  );
  const channels = d ? Object.keys(d.kpis.byChannel).sort() : [];
  return html`<header><h1>${t.title}</h1><nav><a href="/console/queues/">${t.queues}</a> · <${CsvLink} name="kpis" f=${f} label=${t.title} /></nav></header>
    <main>
      <${Filters} f=${f} channels=${channels} onApply=${setF} />
      ${error ? html`<p role="alert" class="error">${t.failed}: ${error}</p>` : null}
      ${!d ? html`<p role="status">${t.loading}</p>` : html`<div id="dashboard" aria-live="polite">
        <${Cards} d=${d} />
        <div class="charts">
          <figure><${Chart} id="volume" option=${options.volume} /><figcaption><${CsvLink} name="volume" f=${f} label=${t.volumeChart} /></figcaption></figure>
          <figure><${Chart} id="rates" option=${options.rates} /><figcaption><${CsvLink} name="kpis" f=${f} label=${t.ratesChart} /></figcaption></figure>
          <figure><${Chart} id="times" option=${options.times} /><figcaption><${CsvLink} name="response-times" f=${f} label=${t.timesChart} /></figcaption></figure>
          <figure><${Chart} id="csat" option=${options.csat} /><figcaption><${CsvLink} name="kpis" f=${f} label=${t.csatChart} /></figcaption></figure>
          <figure><${Chart} id="reasons" option=${options.reasons} /><figcaption><${CsvLink} name="escalations" f=${f} label=${t.reasonsChart} /></figcaption></figure>
        </div>
        <${Gaps} d=${d} f=${f} />
        <${Recent} d=${d} f=${f} />
        <${Proactive} d=${d} f=${f} />
      </div>`}
    </main>`;
}

const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);
