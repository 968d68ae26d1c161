// The map: an SVG in the local north/east frame (north up) with the geofence, the survey area and its
// coverage, hazards, radio links, trails and one marker per drone. Incremental where it matters
// (coverage cells only ever get added; drone markers are created once and moved).
(function (root) {
  'use strict';
  const ns = (root.MurmurDash = root.MurmurDash || {});
  const svgNs = 'http://www.w3.org/2000/svg';
  const linksDrawnMax = 2500;

  // Where a drone's label may go, in order of preference: up and right of the drone (as it always
  // was), then the other seven directions, then the same farther out, each ring a label's height
  // further. A label goes to the first place where it covers no other label and no drone; when every
  // place is taken, to the one it overlaps least. Labels farther out than the first ring get a thin
  // line to their drone. Drones on pads a few metres apart had every label drawn over its neighbours'.
  const labelDirections = [[1, -1], [1, 0], [1, 1], [-1, -1], [-1, 0], [-1, 1], [0, -1], [0, 1]];
  const labelRings = 4;
  const labelPlaces = [];
  for (let ring = 0; ring < labelRings; ring++) for (const [dx, dy] of labelDirections) labelPlaces.push({ dx, dy, ring });

  function overlapArea(a, b) {
    const w = Math.min(a.r, b.r) - Math.max(a.l, b.l);
    const h = Math.min(a.b, b.b) - Math.max(a.t, b.t);
    return w > 0 && h > 0 ? w * h : 0;
  }

  /** The box of a label w x h whose nearest corner or edge sits `gap` from the drone at (x, y), toward (dx, dy). */
  function labelBox(x, y, w, h, place, gap) {
    const k = place.dx !== 0 && place.dy !== 0 ? Math.SQRT1_2 : 1;
    const px = x + place.dx * gap * k, py = y + place.dy * gap * k;
    const l = place.dx > 0 ? px : place.dx < 0 ? px - w : px - w / 2;
    const t = place.dy > 0 ? py : place.dy < 0 ? py - h : py - h / 2;
    return { l, t, r: l + w, b: t + h };
  }

  function el(name, attrs, parent) {
    const e = root.document.createElementNS(svgNs, name);
    for (const k in attrs) e.setAttribute(k, String(attrs[k]));
    if (parent) parent.appendChild(e);
    return e;
  }

  function pointsAttr(poly) {
    return poly.map(([n, e]) => e.toFixed(1) + ',' + (-n).toFixed(1)).join(' ');
  }

  function createMap(svg) {
    let built = null; // per-run DOM
    let bounds = null;

    function reset() {
      while (svg.firstChild) svg.removeChild(svg.firstChild);
      built = null;
      bounds = null;
    }

    function expand(b, n, e) {
      b.minN = Math.min(b.minN, n); b.maxN = Math.max(b.maxN, n);
      b.minE = Math.min(b.minE, e); b.maxE = Math.max(b.maxE, e);
    }

    function fit(state) {
      const w = state.run.world;
      const b = { minN: w.home[0] - 50, maxN: w.home[0] + 50, minE: w.home[1] - 50, maxE: w.home[1] + 50 };
      for (const poly of [w.geofence, w.surveyArea]) if (poly) for (const [n, e] of poly) expand(b, n, e);
      for (const s of state.samples) if (s) expand(b, s.n, s.e);
      bounds = b;
      const pad = Math.max(b.maxN - b.minN, b.maxE - b.minE) * 0.06 + 10;
      const x = b.minE - pad, y = -b.maxN - pad, wM = b.maxE - b.minE + 2 * pad, hM = b.maxN - b.minN + 2 * pad;
      svg.setAttribute('viewBox', [x, y, wM, hM].map((v) => v.toFixed(1)).join(' '));
      return { x, y, w: wM, h: hM, unit: Math.max(wM, hM) / 900 };
    }

    /** A drone outside the fitted area (a flyaway, a geofence breach) makes the map refit. */
    function outside(state) {
      for (const s of state.samples) {
        if (s && (s.n < bounds.minN || s.n > bounds.maxN || s.e < bounds.minE || s.e > bounds.maxE)) return true;
      }
      return false;
    }

    function build(state) {
      reset();
      const view = fit(state);
      const u = view.unit;
      const w = state.run.world;
      const g = {
        grid: el('g', { class: 'grid' }, svg),
        coverage: el('g', { class: 'coverage' }, svg),
        areas: el('g', { class: 'areas' }, svg),
        hazards: el('g', { class: 'hazards' }, svg),
        links: el('path', { class: 'radio-links', d: '', 'stroke-width': (u * 1.1).toFixed(2) }, svg),
        trails: el('g', { class: 'trails' }, svg),
        drones: el('g', { class: 'drones' }, svg),
      };
      // A 100 m grid (or coarser for big worlds) so distances read at a glance.
      const step = Math.max(view.w, view.h) > 3000 ? 500 : 100;
      for (let e = Math.ceil(view.x / step) * step; e < view.x + view.w; e += step) el('line', { x1: e, x2: e, y1: view.y, y2: view.y + view.h, 'stroke-width': u * 0.6 }, g.grid);
      for (let y = Math.ceil(view.y / step) * step; y < view.y + view.h; y += step) el('line', { x1: view.x, x2: view.x + view.w, y1: y, y2: y, 'stroke-width': u * 0.6 }, g.grid);
      const scale = el('g', { class: 'scale' }, svg);
      el('line', { x1: view.x + 20 * u, x2: view.x + 20 * u + step, y1: view.y + view.h - 18 * u, y2: view.y + view.h - 18 * u, 'stroke-width': u * 2 }, scale);
      el('text', { x: view.x + 20 * u, y: view.y + view.h - 24 * u, 'font-size': 11 * u }, scale).textContent = step + ' m';
      if (w.geofence) el('polygon', { class: 'geofence', points: pointsAttr(w.geofence), 'stroke-width': u * 1.6, 'stroke-dasharray': u * 8 + ' ' + u * 5 }, g.areas);
      if (w.surveyArea) el('polygon', { class: 'survey', points: pointsAttr(w.surveyArea), 'stroke-width': u * 1.2 }, g.areas);
      el('circle', { class: 'home', cx: w.home[1], cy: -w.home[0], r: u * 7, 'stroke-width': u * 1.4 }, g.areas);
      const many = state.nodes.length > 60;
      const drones = state.nodes.map((info) => {
        const d = el('g', { class: 'drone ' + info.role, 'data-node': info.index, 'data-id': info.id }, g.drones);
        const r = (info.role === 'validator' ? 6.5 : 4.5) * u * (many ? 0.6 : 1);
        const ring = el('circle', { class: 'proposer-ring', r: r * 1.9, 'stroke-width': u * 1.8 }, d);
        const body = el('circle', { class: 'body', r, 'stroke-width': u * 1.2 }, d);
        const cross = el('path', { class: 'cross', d: `M${-r},${-r}L${r},${r}M${r},${-r}L${-r},${r}`, 'stroke-width': u * 1.8 }, d);
        let label = null;
        let leader = null;
        if (!many) {
          leader = el('line', { class: 'leader', x1: 0, y1: 0, x2: 0, y2: 0, 'stroke-width': u * 0.8, visibility: 'hidden' }, d);
          label = el('text', { x: r * 1.5, y: -r * 1.2, 'font-size': 10.5 * u }, d);
          label.textContent = info.id;
        }
        el('title', {}, d).textContent = info.id + ' (' + info.role + ')';
        const trail = el('polyline', { class: 'trail ' + info.role, points: '', 'stroke-width': u * (many ? 0.7 : 1.3) }, g.trails);
        return { d, ring, body, cross, label, leader, trail, r, fontSize: 10.5 * u, labelW: 0, place: -1 };
      });
      built = { g, drones, cells: new Set(), grid: ns.coverageGrid(w), unit: u, labelled: !many };
    }

    function drawCoverage(state) {
      const grid = built.grid;
      if (!grid) return;
      if (state.coverage.size < built.cells.size) {
        while (built.g.coverage.firstChild) built.g.coverage.removeChild(built.g.coverage.firstChild);
        built.cells.clear();
      }
      for (const c of state.coverage) {
        if (built.cells.has(c)) continue;
        built.cells.add(c);
        const col = c % grid.cols, row = Math.floor(c / grid.cols);
        const e = grid.minE + col * grid.cell, n = grid.minN + row * grid.cell;
        el('rect', { x: e, y: -(n + grid.cell), width: grid.cell + 0.3, height: grid.cell + 0.3 }, built.g.coverage);
      }
    }

    function drawHazards(state) {
      const g = built.g.hazards;
      while (g.firstChild) g.removeChild(g.firstChild);
      for (const h of state.hazards.values()) {
        const c = el('g', { class: 'hazard ' + h.status, 'data-hazard': h.id }, g);
        el('circle', { cx: h.e, cy: -h.n, r: h.radiusM, 'stroke-width': built.unit * 1.5 }, c);
        const t = el('text', { x: h.e, y: -h.n + built.unit * 4, 'font-size': built.unit * 13, 'text-anchor': 'middle' }, c);
        t.textContent = '⚠';
      }
    }

    function drawLinks(state) {
      let d = '';
      let drawn = 0;
      for (const [a, b] of state.radio) {
        const sa = state.samples[a], sb = state.samples[b];
        if (!sa || !sb) continue;
        if (++drawn > linksDrawnMax) break;
        d += 'M' + sa.e.toFixed(1) + ',' + (-sa.n).toFixed(1) + 'L' + sb.e.toFixed(1) + ',' + (-sb.n).toFixed(1);
      }
      built.g.links.setAttribute('d', d);
      built.g.links.setAttribute('class', 'radio-links' + (state.broker === 'down' ? ' carrying' : ''));
    }

    /** Places every visible drone's label clear of the other labels and drones (labelPlaces). */
    function placeLabels(state) {
      if (!built.labelled) return; // a big fleet's drones carry no labels
      const drones = [];
      const bodies = [];
      for (const info of state.nodes) {
        const view = built.drones[info.index];
        const s = state.samples[info.index];
        if (!view || !s) continue;
        const x = s.e, y = -s.n;
        bodies.push({ l: x - view.r, t: y - view.r, r: x + view.r, b: y + view.r });
        if (view.label) drones.push({ view, x, y });
      }
      const placed = [];
      for (const { view, x, y } of drones) {
        // Its width once, from the browser when it can tell (0 before the first layout), else estimated.
        if (!(view.labelW > 0)) view.labelW = view.label.getComputedTextLength ? view.label.getComputedTextLength() : 0;
        const w = view.labelW > 0 ? view.labelW : view.label.textContent.length * view.fontSize * 0.62;
        const h = view.fontSize;
        const gap = view.r * 1.3;
        let best = -1, bestBox = null, bestCost = Infinity;
        // The place it had last time first, so labels do not jump about while the drones move.
        for (let i = -1; i < labelPlaces.length; i++) {
          const k = i < 0 ? view.place : i;
          if (k < 0 || (i >= 0 && k === view.place)) continue;
          const place = labelPlaces[k];
          const box = labelBox(x, y, w, h, place, gap + place.ring * h * 1.1);
          let cost = 0;
          for (const o of placed) cost += overlapArea(box, o);
          for (const o of bodies) cost += overlapArea(box, o);
          if (cost < bestCost) {
            best = k; bestBox = box; bestCost = cost;
            if (cost === 0) break;
          }
        }
        placed.push(bestBox);
        view.place = best;
        // Relative to the drone's group, which is translated to the drone; the baseline a fifth above the bottom.
        view.label.setAttribute('x', (bestBox.l - x).toFixed(2));
        view.label.setAttribute('y', (bestBox.b - h * 0.2 - y).toFixed(2));
        const far = labelPlaces[best].ring > 0;
        view.leader.setAttribute('visibility', far ? 'visible' : 'hidden');
        if (far) {
          // From the drone's edge to the nearest point of the label's box.
          const nx = Math.max(bestBox.l, Math.min(x, bestBox.r)) - x, ny = Math.max(bestBox.t, Math.min(y, bestBox.b)) - y;
          const len = Math.hypot(nx, ny) || 1;
          view.leader.setAttribute('x1', ((nx / len) * view.r).toFixed(2));
          view.leader.setAttribute('y1', ((ny / len) * view.r).toFixed(2));
          view.leader.setAttribute('x2', nx.toFixed(2));
          view.leader.setAttribute('y2', ny.toFixed(2));
        }
      }
    }

    function render(state) {
      if (!state.run) return;
      if (!built || built.run !== state.run || outside(state)) {
        build(state);
        built.run = state.run;
      }
      drawCoverage(state);
      drawHazards(state);
      drawLinks(state);
      for (const info of state.nodes) {
        const view = built.drones[info.index];
        const s = state.samples[info.index];
        if (!view) continue;
        if (!s) {
          view.d.setAttribute('visibility', 'hidden');
          continue;
        }
        view.d.setAttribute('visibility', 'visible');
        view.d.setAttribute('transform', 'translate(' + s.e.toFixed(1) + ',' + (-s.n).toFixed(1) + ')');
        const cls = ['drone', info.role, s.health];
        if (s.byz) cls.push('byzantine');
        if (state.proposer === info.index) cls.push('proposer');
        if (s.u < 0.5) cls.push('landed');
        view.d.setAttribute('class', cls.join(' '));
        const trail = state.trails[info.index] || [];
        view.trail.setAttribute('points', trail.map(([n, e]) => e.toFixed(1) + ',' + (-n).toFixed(1)).join(' '));
      }
      placeLabels(state);
    }

    return { render, reset };
  }
  ns.createMap = createMap;
})(globalThis);
