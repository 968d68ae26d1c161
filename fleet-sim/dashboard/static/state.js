// Dashboard state: folds the run event stream (fleet-sim/report/events.ts) into what the views draw.
// A plain script (no build step, no modules) so the same file runs in the live page, inside the
// self-contained HTML report, and under node for tests; it registers itself on globalThis.MurmurDash.
(function (root) {
  'use strict';
  const ns = (root.MurmurDash = root.MurmurDash || {});

  /** Bounds that keep a long run's page responsive. */
  const limits = { trailPoints: 90, logEntries: 400, chartPoints: 4000, commandLatencies: 1000000 };
  ns.limits = limits;

  function emptyState() {
    return {
      run: null, // the 'run' event
      nodes: [], // NodeInfo by index
      samples: [], // latest NodeSample by index
      proposer: null,
      radio: [],
      broker: 'up',
      trails: [], // per node: [[n, e], ...] bounded
      coverage: new Set(),
      coverageFraction: 0,
      commits: [], // commit events (bounded by limits.chartPoints, oldest dropped)
      commitsTotal: 0,
      commandsTotal: 0,
      commandLatencies: [], // each committed command's latency, as the report's commitP50 counts them
      commandP50: { n: -1, v: null }, // cached: sorting every animation frame is too slow for a long run
      faults: [],
      evidence: [],
      evidenceLog: new Map(),
      hazards: new Map(), // on the map now: detected or committed, by id
      hazardMarks: [], // the timeline's hazard lane: every hazard event (bounded by limits.logEntries)
      log: [], // timeline entries {at, kind, text}
      now: 0,
      frames: 0,
      end: null,
    };
  }
  ns.emptyState = emptyState;

  function pushBounded(list, item, max) {
    list.push(item);
    if (list.length > max) list.splice(0, list.length - max);
  }

  function nodeName(state, i) {
    const n = state.nodes[i];
    return n ? n.id : '#' + i;
  }
  ns.nodeName = nodeName;

  function names(state, list) {
    return list.map((i) => nodeName(state, i)).join(', ');
  }

  /** Applies one event; returns the same (mutated) state. Unknown event types are ignored so an
   *  older page can follow a newer runner. */
  function apply(state, ev) {
    if (!ev || typeof ev.t !== 'string') return state;
    if (typeof ev.at === 'number' && ev.at > state.now) state.now = ev.at;
    switch (ev.t) {
      case 'run': {
        const keep = emptyState();
        Object.assign(state, keep);
        state.run = ev;
        state.nodes = ev.nodes.slice();
        state.trails = ev.nodes.map(() => []);
        state.now = ev.at;
        break;
      }
      case 'frame': {
        state.frames++;
        for (const s of ev.nodes) {
          state.samples[s.i] = s;
          const trail = state.trails[s.i] || (state.trails[s.i] = []);
          const last = trail[trail.length - 1];
          if (!last || Math.abs(last[0] - s.n) + Math.abs(last[1] - s.e) > 0.5) pushBounded(trail, [s.n, s.e], limits.trailPoints);
        }
        state.proposer = ev.proposer;
        state.radio = ev.radio;
        state.broker = ev.broker;
        break;
      }
      case 'commit':
        state.commitsTotal++;
        state.commandsTotal += ev.commands;
        pushBounded(state.commits, ev, limits.chartPoints);
        if (Array.isArray(ev.commandLatencyMs)) {
          for (const v of ev.commandLatencyMs) if (state.commandLatencies.length < limits.commandLatencies) state.commandLatencies.push(v);
        }
        break;
      case 'fault':
        state.faults.push(ev);
        pushBounded(state.log, { at: ev.at, kind: 'fault', text: ev.kind + (ev.nodes.length ? ' ' + names(state, ev.nodes) : '') + (ev.detail ? ': ' + ev.detail : '') }, limits.logEntries);
        break;
      case 'evidence': {
        state.evidence.push(ev);
        // One log line per culprit, counting: a Byzantine node can produce evidence every height.
        const key = ev.kind + '/' + ev.validator;
        const seen = state.evidenceLog.get(key);
        const text = (n, h) => ev.kind + ' evidence against ' + nodeName(state, ev.validator) + (n > 1 ? ' (' + n + ', latest at height ' + h + ')' : ' at height ' + h);
        if (seen) {
          seen.count++;
          seen.entry.text = text(seen.count, ev.height);
        } else {
          const entry = { at: ev.at, kind: 'evidence', text: text(1, ev.height) };
          state.evidenceLog.set(key, { count: 1, entry });
          pushBounded(state.log, entry, limits.logEntries);
        }
        break;
      }
      case 'hazard': {
        // A cleared hazard (an operator's hazard.clear, the drones' denials) leaves the map.
        if (ev.status === 'cleared') state.hazards.delete(ev.id);
        else state.hazards.set(ev.id, ev);
        const text = 'hazard ' + ev.id + ' ' + ev.status + (ev.how ? ' ' + ev.how : ev.by !== null ? ' by ' + nodeName(state, ev.by) : '');
        pushBounded(state.hazardMarks, { at: ev.at, text }, limits.logEntries);
        pushBounded(state.log, { at: ev.at, kind: 'hazard', text }, limits.logEntries);
        break;
      }
      case 'coverage':
        for (const c of ev.cells) state.coverage.add(c);
        state.coverageFraction = ev.fraction;
        break;
      case 'log': {
        // Repeated sightings of one hazard update one line instead of filling the log.
        const m = /^hazard (\S+) also seen/.exec(ev.text);
        const same = m ? state.log.find((e) => e.key === m[1]) : undefined;
        if (same) {
          same.text = ev.text;
          same.at = ev.at;
        } else {
          pushBounded(state.log, { at: ev.at, kind: m ? 'hazard' : ev.level === 'info' ? 'info' : 'fault', text: ev.text, key: m ? m[1] : undefined }, limits.logEntries);
        }
        break;
      }
      case 'end':
        state.end = ev.report || {};
        pushBounded(state.log, { at: ev.at, kind: 'info', text: 'run finished' }, limits.logEntries);
        break;
      default:
        break;
    }
    return state;
  }
  ns.apply = apply;

  /** Percentile of a numeric list (nearest rank); null when empty. */
  function percentile(values, p) {
    if (values.length === 0) return null;
    const sorted = values.slice().sort((a, b) => a - b);
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[rank];
  }
  ns.percentile = percentile;

  /** The commit p50 the report gives: over every committed command (not per block); null before one. */
  function commandP50(state) {
    const c = state.commandP50;
    if (c.n !== state.commandLatencies.length) {
      c.n = state.commandLatencies.length;
      // The report's rank (fleet-sim/sim/run.ts): the value at floor(p * n), the upper of two middles.
      const sorted = state.commandLatencies.slice().sort((a, b) => a - b);
      c.v = sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(0.5 * sorted.length))];
    }
    return c.v;
  }
  ns.commandP50 = commandP50;

  /** Commands per second in fixed buckets of bucketMs, from 0 to state.now. */
  function throughputSeries(state, bucketMs) {
    const buckets = Math.max(1, Math.ceil(state.now / bucketMs));
    const out = new Array(buckets).fill(0);
    for (const c of state.commits) {
      const b = Math.min(buckets - 1, Math.floor(c.at / bucketMs));
      out[b] += c.commands;
    }
    return out.map((v, i) => [i * bucketMs, (v * 1000) / bucketMs]);
  }
  ns.throughputSeries = throughputSeries;

  /** Survey grid geometry from the world's area: origin (min north, min east), columns and rows. */
  function coverageGrid(world) {
    if (!world || !world.surveyArea || world.surveyArea.length < 3) return null;
    let minN = Infinity, minE = Infinity, maxN = -Infinity, maxE = -Infinity;
    for (const [n, e] of world.surveyArea) {
      minN = Math.min(minN, n); maxN = Math.max(maxN, n);
      minE = Math.min(minE, e); maxE = Math.max(maxE, e);
    }
    const cell = world.coverageCellM;
    return { minN, minE, cell, cols: Math.max(1, Math.ceil((maxE - minE) / cell)), rows: Math.max(1, Math.ceil((maxN - minN) / cell)) };
  }
  ns.coverageGrid = coverageGrid;

  function formatMs(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const m = Math.floor(s / 60);
    return m + ':' + String(s % 60).padStart(2, '0');
  }
  ns.formatMs = formatMs;
})(globalThis);
