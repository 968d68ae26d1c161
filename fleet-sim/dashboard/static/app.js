// The dashboard page: follows a run live over Server-Sent Events (/events), or replays a recording
// embedded in a report page (<script id="recording">) or opened from a file. Rendering is batched to
// animation frames so a run going 100x real time never floods the page.
(function (root) {
  'use strict';
  const ns = root.MurmurDash;
  const doc = root.document;
  const eventsKeptMax = 400000;
  // Frames kept for scrubbing, thinned as the recorder thins them (fleet-sim/report/recorder.ts,
  // limits.recordingFrameSamplesMax): live frames come ten a second for as long as the run lasts.
  const frameSamplesMax = 400000;
  /** How long a live page waits for its event stream to open before it says why it may not. */
  const streamWaitMs = 3000;
  const keep = { periodMs: 200, lastAt: -Infinity, last: null, lastKept: true };

  const $ = (id) => doc.getElementById(id);
  let state = ns.emptyState();
  let events = []; // everything received, for scrubbing once the run is over
  let dirty = true;
  let scrubbing = false; // the view shows a past moment, not the latest
  let playing = null; // replay timer
  const map = ns.createMap($('map'));
  const panels = ns.createPanels($('nodes'));

  function remember(ev) {
    if (events.length < eventsKeptMax) events.push(ev);
  }

  function receive(ev) {
    if (ev.t === 'run') {
      noteDropped(0);
      events = [];
      const samples = Math.max(1, ev.nodes.length) * Math.max(1, ev.durationMs);
      keep.periodMs = Math.max(200, Math.ceil(samples / frameSamplesMax / 50) * 50);
      keep.lastAt = -Infinity;
      keep.last = null;
      keep.lastKept = true;
    }
    if (ev.t === 'frame') {
      keep.last = ev;
      keep.lastKept = ev.at - keep.lastAt >= keep.periodMs;
      if (keep.lastKept) {
        keep.lastAt = ev.at;
        remember(ev);
      }
    } else {
      // The final state is kept whatever was thinned before it.
      if (ev.t === 'end' && keep.last && !keep.lastKept) remember(keep.last);
      remember(ev);
    }
    if (!scrubbing) {
      ns.apply(state, ev);
      dirty = true;
    }
    if (ev.t === 'end') setScrubber(true);
  }

  function render() {
    if (!dirty) return;
    dirty = false;
    const run = state.run;
    if (!run) return;
    $('scenario').textContent = run.scenario;
    const counted = (n, one) => n + ' ' + one + (n === 1 ? '' : 's');
    $('meta').textContent = run.mode + ' · seed ' + run.seed + ' · ' + counted(state.nodes.filter((n) => n.role === 'validator').length, 'validator') + ' · ' + counted(state.nodes.filter((n) => n.role === 'follower').length, 'follower');
    const frac = Math.min(1, state.now / Math.max(1, run.durationMs));
    $('progress-fill').style.width = (frac * 100).toFixed(1) + '%';
    $('clock').textContent = ns.formatMs(state.now) + ' / ' + ns.formatMs(run.durationMs);
    const broker = $('broker');
    broker.textContent = 'broker ' + state.broker;
    broker.className = 'pill ' + (state.broker === 'up' ? 'ok' : 'bad');
    const status = $('status');
    if (state.end) {
      const ok = state.end.safety && state.end.safety.ok && (!state.end.expect || state.end.expect.met);
      status.textContent = ok ? 'finished · all expectations met' : 'finished · expectations failed';
      status.className = 'pill ' + (ok ? 'ok' : 'bad');
    } else {
      status.textContent = scrubbing ? 'replay' : 'live';
      status.className = 'pill ' + (scrubbing ? 'neutral' : 'live');
    }
    const height = state.samples.reduce((m, s) => (s && s.h > m ? s.h : m), 0);
    const p50 = ns.commandP50(state);
    $('stat-height').textContent = String(height);
    $('stat-commands').textContent = String(state.commandsTotal);
    $('stat-p50').textContent = p50 === null ? '–' : p50.toFixed(p50 < 10 ? 1 : 0) + ' ms';
    $('stat-coverage').textContent = (state.coverageFraction * 100).toFixed(0) + '%';
    $('stat-evidence').textContent = String(state.evidence.length);
    $('stat-faults').textContent = String(state.faults.length);
    map.render(state);
    panels.render(state);
    ns.latencyChart($('latency'), state);
    ns.throughputChart($('throughput'), state);
    ns.timelineChart($('timeline'), state);
    renderLog();
    renderSummary();
  }

  function renderLog() {
    const list = $('log');
    list.textContent = '';
    for (let i = state.log.length - 1; i >= 0 && list.childElementCount < 60; i--) {
      const e = state.log[i];
      const li = doc.createElement('li');
      li.className = e.kind;
      const t = doc.createElement('time');
      t.textContent = ns.formatMs(e.at);
      li.append(t, doc.createTextNode(e.text));
      list.append(li);
    }
  }

  function fmt(v) {
    return typeof v === 'number' ? v.toFixed(v < 10 ? 1 : 0) : '–';
  }

  /** What broke, as the terminal's summary says it: the first violation, and how many more. */
  function violated(list) {
    const v = list[0];
    if (!v) return 'VIOLATED';
    const at = typeof v.atMs === 'number' ? ' at ' + ns.formatMs(v.atMs) : '';
    return 'VIOLATED: ' + v.property + at + ': ' + v.detail + (list.length > 1 ? ' (and ' + (list.length - 1) + ' more)' : '');
  }

  /** Commands committed as rejected (the report's liveness.commandsRejected), the first one's reason. */
  function rejectedNote(l) {
    if (!l.commandsRejected) return '';
    const first = (l.rejections || [])[0];
    return ' (' + l.commandsRejected + ' rejected' + (first ? ', first ' + first.type + ' at height ' + first.height + ': ' + first.reason.split('; ')[0] : '') + ')';
  }

  function renderSummary() {
    const box = $('summary');
    const r = state.end;
    if (!r) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    const rows = [
      ['safety', r.safety ? (r.safety.ok ? 'ok' : violated(r.safety.violations || [])) : '–'],
      ['heights', r.liveness ? r.liveness.heights : '–'],
      ['commands', r.liveness ? r.liveness.commandsCommitted + ' / ' + r.liveness.commandsSubmitted + rejectedNote(r.liveness) : '–'],
      ['max stall', r.liveness ? r.liveness.maxStallMs + ' ms' : '–'],
      ['commit p50 / p99', r.latencyMs ? fmt(r.latencyMs.commitP50) + ' / ' + fmt(r.latencyMs.commitP99) + ' ms' : '–'],
      ['surveyed', r.flight && typeof r.flight.surveyedFraction === 'number' ? (r.flight.surveyedFraction * 100).toFixed(0) + '%' : '–'],
      ['expectations', r.expect ? (r.expect.met ? 'met' : 'failed: ' + r.expect.failed.join('; ')) : '–'],
    ];
    // A failed deterministic run: the one command that replays it, as the terminal prints it.
    if (r.expect && !r.expect.met && typeof r.replay === 'string') rows.push(['replay', r.replay]);
    box.textContent = '';
    box.classList.toggle('bad', !(r.safety && r.safety.ok && (!r.expect || r.expect.met)));
    for (const [k, v] of rows) {
      const dt = doc.createElement('dt');
      dt.textContent = k;
      const dd = doc.createElement('dd');
      dd.textContent = String(v);
      box.append(dt, dd);
    }
  }

  /** Rebuilds the state as it was at simulated time t (events are in time order). */
  function seek(t) {
    state = ns.emptyState();
    for (const ev of events) {
      if (ev.at > t && ev.t !== 'run') break;
      ns.apply(state, ev);
    }
    state.now = Math.max(state.now, Math.min(t, state.run ? state.run.durationMs : t));
    dirty = true;
  }

  function setScrubber(enabled) {
    const s = $('scrub');
    const last = events.length ? events[events.length - 1].at : 0;
    s.max = String(Math.max(last, state.run ? state.run.durationMs : 0));
    s.value = String(state.now);
    s.disabled = !enabled;
    $('play').disabled = !enabled;
  }

  function startReplay(fromStart) {
    if (playing) return;
    scrubbing = true;
    let t = fromStart ? 0 : Number($('scrub').value);
    const end = Number($('scrub').max);
    const stepMs = Math.max(100, end / 600); // a whole replay takes about 30 s whatever the run's length
    $('play').textContent = '❚❚';
    playing = root.setInterval(() => {
      t = Math.min(end, t + stepMs);
      seek(t);
      $('scrub').value = String(t);
      if (t >= end) stopReplay();
    }, 50);
  }

  function stopReplay() {
    if (playing) root.clearInterval(playing);
    playing = null;
    $('play').textContent = '▶';
  }

  function loadRecording(list) {
    stopReplay();
    events = [];
    state = ns.emptyState();
    scrubbing = false;
    for (const ev of list) receive(ev);
    setScrubber(true);
    dirty = true;
  }

  $('scrub').addEventListener('input', () => {
    stopReplay();
    scrubbing = true;
    seek(Number($('scrub').value));
  });
  $('play').addEventListener('click', () => (playing ? stopReplay() : startReplay(Number($('scrub').value) >= Number($('scrub').max))));
  let source = null; // the live stream, closed when a recording is opened instead

  /** A recording that filled up (recorder.ts keeps the earliest events) stops short of the report; a
   *  live page that opened after it filled up has a hole where the dropped events were (the server's
   *  'dropped' event says how many), then follows the run. */
  function noteDropped(dropped, live) {
    const n = $('notice');
    n.hidden = !(dropped > 0);
    if (!(dropped > 0)) n.textContent = '';
    else if (live) n.textContent = 'this page opened after the recording filled up: ' + dropped + ' events that came after it are not shown, so the map, charts and counts leave them out; the summary is the whole run';
    else n.textContent = 'the recording filled up: ' + dropped + ' later events are not in it, so the map, charts and counts stop short; the summary is the whole run';
  }
  /** Opens a recording (/recording.json saved from a live page); anything else is named, not ignored. */
  function openFile(name, text) {
    const problem = $('open-error');
    const say = (msg) => {
      problem.textContent = msg;
      problem.hidden = msg === '';
    };
    let parsed;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      say(name + ' is not JSON (' + err.message + ')');
      return;
    }
    const list = !parsed || typeof parsed !== 'object' ? null : Array.isArray(parsed) ? parsed : parsed.events || (parsed.recording && parsed.recording.events);
    if (!Array.isArray(list) || !list.some((ev) => ev && ev.t === 'run')) {
      const report = parsed && typeof parsed === 'object' && parsed.safety && parsed.liveness;
      say(report ? name + " is a run's report, not a recording: open the .html report written beside it, or save /recording.json from the live dashboard" : name + ' is not a fleet-sim recording (no run in it)');
      return;
    }
    say('');
    if (source) source.close();
    source = null;
    loadRecording(list);
    noteDropped(Array.isArray(parsed) ? 0 : parsed.dropped || (parsed.recording && parsed.recording.dropped) || 0);
  }
  $('open').addEventListener('change', (e) => {
    const file = e.target.files && e.target.files[0];
    if (!file) return;
    file.text().then((text) => openFile(file.name, text), (err) => {
      $('open-error').textContent = 'cannot read ' + file.name + ': ' + err.message;
      $('open-error').hidden = false;
    });
  });

  function frame() {
    render();
    root.requestAnimationFrame(frame);
  }
  root.requestAnimationFrame(frame);

  const embedded = doc.getElementById('recording');
  if (embedded) {
    const rec = JSON.parse(embedded.textContent || '{"events":[]}');
    loadRecording(rec.events || []);
    noteDropped(rec.dropped || 0);
    doc.body.classList.add('report');
  } else if (root.EventSource) {
    setScrubber(false);
    const live = new root.EventSource('/events');
    source = live;
    let opened = false;
    live.onopen = () => {
      opened = true;
      if (!state.run) $('status').textContent = 'connected';
    };
    // A browser opens at most 6 connections to one host over HTTP/1.1 and each live page holds one:
    // a 7th page's stream waits, unsaid, until another page of this host is closed.
    root.setTimeout(() => {
      if (!opened && live.readyState === 0) $('status').textContent = 'waiting for a connection (the browser allows 6 per host)';
    }, streamWaitMs);
    live.onmessage = (m) => receive(JSON.parse(m.data));
    live.addEventListener('dropped', (m) => noteDropped(JSON.parse(m.data).count, true));
    live.addEventListener('close', () => live.close());
    live.onerror = () => {
      // The server ends the stream when the run is over and the process exits; stop reconnecting.
      if (state.end) live.close();
      $('status').textContent = state.end ? $('status').textContent : 'disconnected';
      // Closed for good (not retrying): the server answered with an error. 503 is its page limit.
      if (live.readyState === 2 && !state.end && root.fetch) {
        root.fetch('/events', { method: 'HEAD' }).then((r) => {
          if (r.status !== 503 || source !== live) return;
          $('status').textContent = 'refused: too many dashboard pages open; close one and reload';
          $('status').className = 'pill bad';
        }, () => {});
      }
    };
  }
  ns.debug = { state: () => state, events: () => events };
})(globalThis);
