// ECharts options for the dashboard's charts (SVG renderer, ARIA descriptions on: the numbers are
// readable by screen readers and by the end-to-end test).
import { h } from './preact.js';
import { useEffect, useRef } from './hooks.js';
import * as echarts from './echarts.js';
import { lang, t } from './i18n.js';

const PALETTE = ['#1f6feb', '#d4380d', '#389e0d', '#722ed1', '#d48806', '#08979c', '#c41d7f'];

function base(title) {
  return {
    color: PALETTE,
    animation: false,
    title: { text: title, left: 0, textStyle: { fontSize: 14 } },
    aria: { enabled: true, label: { enabled: true } },
    tooltip: { trigger: 'axis' },
    legend: { bottom: 0, type: 'scroll' },
    grid: { left: 56, right: 56, top: 72, bottom: 56 },
  };
}

const days = (rows) => [...new Set(rows.map((r) => r.day))].sort();

export function volumeOption(volume) {
  const x = days(volume.rows);
  const channels = [...new Set(volume.rows.map((r) => r.channel))].sort();
  return {
    ...base(t.volumeChart),
    xAxis: { type: 'category', data: x },
    yAxis: { type: 'value', minInterval: 1 },
    series: channels.map((ch) => ({
      name: ch,
      type: 'bar',
      stack: 'messages',
      data: x.map((d) => volume.rows.filter((r) => r.day === d && r.channel === ch).reduce((s, r) => s + r.inbound + r.outbound, 0)),
    })),
  };
}

const pctOf = (x) => (x === null ? null : Math.round(x * 1000) / 10);

export function ratesOption(kpis) {
  const b = kpis.buckets;
  return {
    ...base(t.ratesChart),
    xAxis: { type: 'category', data: b.map((r) => r.day) },
    yAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
    series: [
      { name: t.botResolution, type: 'line', data: b.map((r) => pctOf(r.botResolutionRate)) },
      { name: t.escalation, type: 'line', data: b.map((r) => pctOf(r.escalationRate)) },
      { name: t.fcr, type: 'line', data: b.map((r) => pctOf(r.firstContactResolutionRate)) },
    ],
  };
}

const sec = (ms) => (ms === null ? null : Math.round(ms / 100) / 10);
const min = (ms) => (ms === null ? null : Math.round(ms / 6000) / 10);

export function timesOption(times) {
  const s = times.series;
  return {
    ...base(t.timesChart),
    xAxis: { type: 'category', data: s.map((r) => r.day) },
    yAxis: [
      { type: 'value', name: t.seconds },
      { type: 'value', name: t.minutes },
    ],
    series: [
      { name: t.botMedian, type: 'line', data: s.map((r) => sec(r.botFirstResponse.median)) },
      { name: t.botP90, type: 'line', lineStyle: { type: 'dashed' }, data: s.map((r) => sec(r.botFirstResponse.p90)) },
      { name: t.agentMedian, type: 'line', yAxisIndex: 1, data: s.map((r) => min(r.agentFirstResponse.median)) },
      { name: t.agentP90, type: 'line', yAxisIndex: 1, lineStyle: { type: 'dashed' }, data: s.map((r) => min(r.agentFirstResponse.p90)) },
    ],
  };
}

export function csatOption(kpis) {
  const b = kpis.buckets;
  return {
    ...base(t.csatChart),
    xAxis: { type: 'category', data: b.map((r) => r.day) },
    yAxis: [
      { type: 'value', min: 0, max: 5, name: t.csatAverage },
      { type: 'value', min: 0, max: 100, name: t.csatRate },
    ],
    series: [
      { name: t.csatAverage, type: 'bar', data: b.map((r) => r.csatAverage) },
      { name: t.csatRate, type: 'line', yAxisIndex: 1, data: b.map((r) => pctOf(r.csatResponseRate)) },
    ],
  };
}

export function reasonsOption(esc) {
  const byReason = new Map();
  for (const r of esc.rows) byReason.set(r.reason, (byReason.get(r.reason) ?? 0) + r.count);
  return {
    ...base(t.reasonsChart),
    tooltip: { trigger: 'item' },
    grid: undefined,
    series: [{ name: t.reasonsChart, type: 'pie', radius: ['35%', '62%'], top: 24, bottom: 32, data: [...byReason].map(([reason, value]) => ({ name: t.reasons[reason] ?? reason, value })) }],
  };
}

/** One chart: an ECharts instance on a div, resized with the window. */
export function Chart({ id, option }) {
  const ref = useRef(null);
  useEffect(() => {
    const chart = echarts.init(ref.current, null, { renderer: 'svg', locale: lang === 'zh' ? 'ZH' : 'EN' });
    chart.setOption(option);
    const onResize = () => chart.resize();
    window.addEventListener('resize', onResize);
    return () => {
      window.removeEventListener('resize', onResize);
      chart.dispose();
    };
  }, [option]);
  return h('div', { id, class: 'chart', ref, 'data-chart': id });
}
