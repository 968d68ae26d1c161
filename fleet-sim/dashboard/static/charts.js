// Charts drawn as SVG into fixed-size boxes: commit latency over time (dots with p50/p99 lines),
// throughput (commands/s per second), and the timeline lanes of commits, faults, evidence and hazards.
(function (root) {
  'use strict';
  const ns = (root.MurmurDash = root.MurmurDash || {});
  const svgNs = 'http://www.w3.org/2000/svg';
  const W = 460, H = 150, L = 40, R = 10, T = 12, B = 22;

  function el(name, attrs, parent) {
    const e = root.document.createElementNS(svgNs, name);
    for (const k in attrs) e.setAttribute(k, String(attrs[k]));
    if (parent) parent.appendChild(e);
    return e;
  }

  function clear(svg, w, h) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    svg.setAttribute('preserveAspectRatio', 'none');
  }

  /** A top of scale whose four gridline steps are round numbers (1, 2 or 5 times a power of ten). */
  function niceMax(v) {
    if (v <= 0) return 4;
    const step = v / 4;
    const p = Math.pow(10, Math.floor(Math.log10(step)));
    for (const m of [1, 2, 5, 10]) if (m * p >= step) return 4 * m * p;
    return 40 * p;
  }

  function axes(svg, xMax, yMax) {
    const g = el('g', { class: 'axes' }, svg);
    for (let i = 0; i <= 4; i++) {
      const y = T + ((H - T - B) * i) / 4;
      el('line', { x1: L, x2: W - R, y1: y, y2: y, class: i === 4 ? 'base' : 'rule' }, g);
      const label = el('text', { x: L - 5, y: y + 3.5, 'text-anchor': 'end' }, g);
      label.textContent = formatNum((yMax * (4 - i)) / 4);
    }
    const ticks = Math.min(6, Math.max(1, Math.floor(xMax / 5000)));
    for (let i = 0; i <= ticks; i++) {
      const x = L + ((W - L - R) * i) / ticks;
      const t = el('text', { x, y: H - 6, 'text-anchor': i === 0 ? 'start' : i === ticks ? 'end' : 'middle' }, g);
      t.textContent = ns.formatMs((xMax * i) / ticks);
    }
  }

  function formatNum(v) {
    if (v >= 100) return String(Math.round(v));
    if (v >= 10) return v.toFixed(0);
    return v.toFixed(1).replace(/\.0$/, '');
  }

  function xOf(at, xMax) {
    return L + ((W - L - R) * Math.min(at, xMax)) / xMax;
  }

  function yOf(v, yMax) {
    return H - B - ((H - T - B) * Math.min(v, yMax)) / yMax;
  }

  function latencyChart(svg, state) {
    clear(svg, W, H);
    const xMax = Math.max(state.run ? state.run.durationMs : 1, state.now, 1);
    const lat = state.commits.map((c) => c.latencyMs);
    const p50 = ns.percentile(lat, 50), p99 = ns.percentile(lat, 99);
    const yMax = niceMax(Math.max(p99 === null ? 10 : p99 * 1.25, 1));
    axes(svg, xMax, yMax);
    let d = '';
    for (const c of state.commits) {
      const x = xOf(c.at, xMax), y = yOf(c.latencyMs, yMax);
      d += 'M' + x.toFixed(1) + ',' + y.toFixed(1) + 'h0.01';
    }
    el('path', { class: 'dots', d }, svg);
    // Labels sit above their lines; when p50 and p99 are close (steady commits: 100 and 108 ms) the p50
    // one goes below its line, else the two are drawn over each other.
    const close = p50 !== null && p99 !== null && yOf(p50, yMax) - yOf(p99, yMax) < 12;
    for (const [v, cls, name] of [[p50, 'p50', 'p50'], [p99, 'p99', 'p99']]) {
      if (v === null) continue;
      const y = yOf(v, yMax);
      el('line', { class: 'pline ' + cls, x1: L, x2: W - R, y1: y, y2: y }, svg);
      const below = cls === 'p50' && close;
      const t = el('text', { class: 'plabel ' + cls, x: W - R - 2, y: below ? y + 11 : y - 3, 'text-anchor': 'end' }, svg);
      t.textContent = name + ' ' + formatNum(v) + ' ms';
    }
  }

  function throughputChart(svg, state) {
    clear(svg, W, H);
    const xMax = Math.max(state.run ? state.run.durationMs : 1, state.now, 1);
    const series = ns.throughputSeries(state, 1000);
    const yMax = niceMax(Math.max(1, ...series.map((p) => p[1])));
    axes(svg, xMax, yMax);
    const bw = Math.max(0.8, ((W - L - R) * 1000) / xMax - 0.6);
    let d = '';
    for (const [at, v] of series) {
      if (v <= 0) continue;
      const x = xOf(at, xMax), y = yOf(v, yMax);
      d += 'M' + x.toFixed(1) + ',' + (H - B) + 'V' + y.toFixed(1) + 'h' + bw.toFixed(2) + 'V' + (H - B);
    }
    el('path', { class: 'bars', d }, svg);
  }

  const lanes = [
    ['commits', 'commit'],
    ['faults', 'fault'],
    ['evidence', 'evidence'],
    ['hazards', 'hazard'],
  ];

  function timelineChart(svg, state) {
    const TW = 960, TH = 86, TL = 70;
    clear(svg, TW, TH);
    const xMax = Math.max(state.run ? state.run.durationMs : 1, state.now, 1);
    const x = (at) => TL + ((TW - TL - 8) * Math.min(at, xMax)) / xMax;
    const laneH = (TH - 14) / lanes.length;
    lanes.forEach(([name], i) => {
      const y = 4 + i * laneH;
      el('rect', { class: 'lane', x: TL, y, width: TW - TL - 8, height: laneH - 3 }, svg);
      el('text', { class: 'lane-label', x: TL - 6, y: y + laneH / 2 + 2, 'text-anchor': 'end' }, svg).textContent = name;
    });
    const mark = (lane, at, cls, title) => {
      const y = 4 + lane * laneH;
      const m = el('rect', { class: 'mark ' + cls, x: x(at) - 1, y: y + 1, width: 2.2, height: laneH - 5 }, svg);
      if (title) el('title', {}, m).textContent = ns.formatMs(at) + ' ' + title;
    };
    let d = '';
    for (const c of state.commits) d += 'M' + x(c.at).toFixed(1) + ',' + (5 + 0) + 'v' + (laneH - 5).toFixed(1);
    el('path', { class: 'commit-ticks', d }, svg);
    for (const f of state.faults) mark(1, f.at, 'fault ' + f.kind, f.kind + ' ' + f.nodes.map((i) => ns.nodeName(state, i)).join(',') + ' ' + f.detail);
    for (const e of state.evidence) mark(2, e.at, 'evidence', e.kind + ' by ' + ns.nodeName(state, e.validator));
    for (const h of state.hazardMarks) mark(3, h.at, 'hazard', h.text);
    el('line', { class: 'now', x1: x(state.now), x2: x(state.now), y1: 2, y2: TH - 10 }, svg);
    const t0 = el('text', { class: 'lane-label', x: TL, y: TH - 1 }, svg);
    t0.textContent = '0:00';
    const t1 = el('text', { class: 'lane-label', x: TW - 8, y: TH - 1, 'text-anchor': 'end' }, svg);
    t1.textContent = ns.formatMs(xMax);
  }

  ns.latencyChart = latencyChart;
  ns.throughputChart = throughputChart;
  ns.timelineChart = timelineChart;
})(globalThis);
