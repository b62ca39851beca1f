// The map: located reports and patrol entries drawn from their coordinates as SVG over the grid
// outlines the operator gave the server (GET /api/v1/grids), with no online tiles. Without
// outlines the points stand on a plain projection. The projection is equirectangular around
// the middle latitude (a street or a district is small enough for it), with a scale bar. A
// click on a point opens its record.

import { h, s, put } from './dom.js';
import { get, query } from './api.js';
import { t, label } from './i18n.js';
import { time } from './fmt.js';
import { fail } from './messages.js';
import { OPEN, grid } from './rows.js';

const W = 1000;
const H = 640;
const PAD = 40;
const MAX_REPORT_PAGES = 25;
const PATROLS = 20;
const M_PER_DEG = 111320;

async function reportsWithPlaces(state) {
  const out = [];
  let after = null;
  for (let i = 0; i < MAX_REPORT_PAGES; i++) {
    const status = state === 'open' ? OPEN.join(',') : '';
    const page = await get(`/api/v1/reports${query({ status, limit: 200, after })}`);
    out.push(...page.items.filter((r) => r.lat !== null && r.lon !== null));
    if (!page.next) break;
    after = page.next;
  }
  return out;
}

async function patrolEntries() {
  const page = await get(`/api/v1/patrols${query({ sort: 'updated', limit: PATROLS })}`);
  const views = await Promise.all(page.items.map((p) => get(`/api/v1/records/${encodeURIComponent(p.doc)}`)));
  const out = [];
  for (const v of views) {
    const log = v.record.patrol_log;
    if (!log) continue;
    for (const e of log.entries || []) {
      if (e.location) out.push({ doc: log.header.id, area: log.area, entry: e });
    }
  }
  return out;
}

/** A projection fitting the points (lon, lat) into the drawing. */
function projection(points) {
  let [minLon, maxLon, minLat, maxLat] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const [lon, lat] of points) {
    minLon = Math.min(minLon, lon); maxLon = Math.max(maxLon, lon);
    minLat = Math.min(minLat, lat); maxLat = Math.max(maxLat, lat);
  }
  if (!Number.isFinite(minLon)) [minLon, maxLon, minLat, maxLat] = [0, 0.01, 0, 0.01];
  const midLat = (minLat + maxLat) / 2;
  const cos = Math.cos((midLat * Math.PI) / 180);
  const spanX = Math.max((maxLon - minLon) * cos, 0.002);
  const spanY = Math.max(maxLat - minLat, 0.002);
  const k = Math.min((W - 2 * PAD) / spanX, (H - 2 * PAD) / spanY);
  const cx = (minLon + maxLon) / 2;
  const cy = midLat;
  return {
    x: (lon) => W / 2 + (lon - cx) * cos * k,
    y: (lat) => H / 2 - (lat - cy) * k,
    metresPerUnit: M_PER_DEG / k,
  };
}

function scaleBar(p) {
  const target = (W / 5) * p.metresPerUnit;
  const pow = 10 ** Math.floor(Math.log10(target));
  const metres = [5, 2, 1].map((m) => m * pow).find((m) => m <= target) || pow;
  const len = metres / p.metresPerUnit;
  const text = metres >= 1000 ? `${metres / 1000} km` : `${metres} m`;
  const x = PAD;
  const y = H - 16;
  return s('g', { class: 'scale', id: 'scale-bar' },
    s('title', {}, t('map.scale')),
    s('path', { d: `M${x} ${y - 6}V${y}H${x + len}V${y - 6}` }),
    s('text', { x: x + len + 8, y }, text));
}

function ringPath(ring, p) {
  return ring.map(([lon, lat], i) => `${i ? 'L' : 'M'}${p.x(lon).toFixed(1)} ${p.y(lat).toFixed(1)}`).join('') + 'Z';
}

/** The map page. */
export async function show(main) {
  const state = h('select', { id: 'm-state' },
    h('option', { value: 'open' }, t('filter.open')), h('option', { value: 'any' }, t('filter.any')));
  const counts = h('span', { class: 'summary', id: 'map-counts' });
  const note = h('p', { class: 'note', id: 'map-note', hidden: true }, t('map.no_outlines'));
  const holder = h('div', { class: 'map-holder' });
  put(main, h('section', { class: 'map-page' },
    h('div', { class: 'board-head' }, h('h2', {}, t('map.title')),
      h('label', { for: 'm-state' }, t('filter.state')), state, counts,
      h('span', { class: 'legend' }, h('i', { class: 'dot report' }), t('map.reports'),
        h('i', { class: 'dot patrol' }), t('map.patrols'))),
    note, holder));

  const draw = async () => {
    try {
      const [grids, reports, entries] = await Promise.all([
        get('/api/v1/grids'), reportsWithPlaces(state.value), patrolEntries()]);
      const outlines = grids.features || [];
      note.hidden = outlines.length > 0;
      const points = [];
      for (const f of outlines) {
        for (const poly of f.geometry.coordinates) for (const ring of poly) points.push(...ring);
      }
      for (const r of reports) points.push([r.lon, r.lat]);
      for (const e of entries) points.push([e.entry.location.lon, e.entry.location.lat]);
      const p = projection(points);
      const svg = s('svg', { id: 'map', class: 'map', viewBox: `0 0 ${W} ${H}`, role: 'img',
        'aria-label': t('map.title') });
      const outlineGroup = s('g', { class: 'outlines' });
      for (const f of outlines) {
        const d = f.geometry.coordinates.flatMap((poly) => poly.map((ring) => ringPath(ring, p))).join('');
        outlineGroup.append(s('path', { class: 'outline', d }, s('title', {}, f.properties.name || '')));
        const first = f.geometry.coordinates[0]?.[0] || [];
        if (first.length) {
          const lon = first.reduce((a, q) => a + q[0], 0) / first.length;
          const lat = first.reduce((a, q) => a + q[1], 0) / first.length;
          outlineGroup.append(s('text', { class: 'outline-name', x: p.x(lon), y: p.y(lat) }, f.properties.name || ''));
        }
      }
      svg.append(outlineGroup);
      const patrolGroup = s('g', { class: 'patrols' });
      for (const e of entries) {
        const x = p.x(e.entry.location.lon);
        const y = p.y(e.entry.location.lat);
        patrolGroup.append(s('a', { href: `#/record/${encodeURIComponent(e.doc)}`, class: 'marker patrol' },
          s('rect', { x: x - 4, y: y - 4, width: 8, height: 8 }),
          s('title', {}, `${e.area} · ${e.entry.text} · ${time(e.entry.at)}`)));
      }
      svg.append(patrolGroup);
      const reportGroup = s('g', { class: 'reports' });
      for (const r of reports) {
        reportGroup.append(s('a', { href: `#/record/${encodeURIComponent(r.doc)}`,
          class: `marker report s-${r.status}${r.overdue ? ' overdue' : ''}`, dataset: { doc: r.doc } },
        s('circle', { cx: p.x(r.lon), cy: p.y(r.lat), r: r.overdue ? 8 : 6 }),
        s('title', {}, `${r.title} · ${label('status', r.status)} · ${grid(r.scope)}`)));
      }
      svg.append(reportGroup, scaleBar(p));
      holder.replaceChildren(svg);
      counts.textContent = t('map.counts', { reports: reports.length, entries: entries.length });
      if (!reports.length && !entries.length) holder.append(h('p', { class: 'empty' }, t('map.none')));
    } catch (e) {
      fail(e);
    }
  };
  state.addEventListener('change', draw);
  await draw();
  return () => {};
}
