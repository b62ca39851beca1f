// Bar charts as SVG, drawn from figures with DOM calls (labels are text nodes).

import { s } from './dom.js';

/**
 * Horizontal bars: one row per item, one bar per series (`series`: [{key, name, cls}]),
 * scaled to the largest value.
 */
export function bars(items, series, labelOf) {
  const rowH = 14 * series.length + 10;
  const left = 180;
  const width = 760;
  const height = Math.max(40, items.length * rowH + 30);
  const max = Math.max(1, ...items.flatMap((it) => series.map((sr) => it[sr.key] || 0)));
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${left + width + 60} ${height}`, role: 'img' });
  items.forEach((it, i) => {
    const y = 10 + i * rowH;
    svg.append(s('text', { x: left - 8, y: y + rowH / 2, class: 'label' }, labelOf(it)));
    series.forEach((sr, j) => {
      const v = it[sr.key] || 0;
      const w = (v / max) * width;
      svg.append(s('rect', { x: left, y: y + j * 14, width: Math.max(w, 1), height: 12, class: `bar ${sr.cls}` },
        s('title', {}, `${sr.name}: ${v}`)));
      svg.append(s('text', { x: left + w + 4, y: y + j * 14 + 10, class: 'value' }, String(v)));
    });
  });
  const legendY = height - 8;
  series.forEach((sr, j) => {
    svg.append(s('rect', { x: left + j * 140, y: legendY - 10, width: 12, height: 12, class: `bar ${sr.cls}` }));
    svg.append(s('text', { x: left + j * 140 + 16, y: legendY, class: 'legend' }, sr.name));
  });
  return svg;
}
