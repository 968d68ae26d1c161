// Node panels: one card per validator and per follower for fleets a person can read card by card;
// past that, the first followers get cards and every node gets a cell in a health strip.
(function (root) {
  'use strict';
  const ns = (root.MurmurDash = root.MurmurDash || {});
  const cardsMax = 40;

  function h(tag, cls, text) {
    const e = root.document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function createPanels(container) {
    let built = null;

    function build(state) {
      container.textContent = '';
      const cards = [];
      const shown = state.nodes.filter((n) => n.role === 'validator' || n.index < cardsMax).slice(0, cardsMax + 32);
      const grid = h('div', 'cards');
      for (const info of shown) {
        const card = h('div', 'card ' + info.role);
        card.dataset.node = String(info.index);
        const top = h('div', 'card-top');
        const name = h('span', 'name', info.id);
        const role = h('span', 'role', info.role === 'validator' ? 'validator' : 'follower');
        const star = h('span', 'star', '★');
        star.title = 'proposer';
        top.append(name, star, role);
        const health = h('div', 'health');
        const hr = h('div', 'hr');
        const batRow = h('div', 'batrow');
        const bat = h('div', 'battery');
        const batFill = h('div', 'fill');
        const batText = h('span', 'bat-text');
        bat.append(batFill);
        batRow.append(bat, batText);
        const foot = h('div', 'foot');
        const mode = h('span', 'mode');
        const engine = h('span', 'engine', info.engine);
        foot.append(mode, engine);
        card.append(top, health, hr, batRow, foot);
        grid.append(card);
        cards.push({ info, card, health, hr, batFill, batText, mode });
      }
      container.append(grid);
      let strip = null;
      if (state.nodes.length > shown.length) {
        const wrap = h('div', 'strip-wrap');
        wrap.append(h('div', 'strip-title', 'all ' + state.nodes.length + ' nodes'));
        strip = h('div', 'strip');
        for (const info of state.nodes) {
          const c = h('i', 'cell');
          c.title = info.id;
          strip.append(c);
        }
        wrap.append(strip);
        container.append(wrap);
      }
      built = { run: state.run, cards, strip };
    }

    function render(state) {
      if (!state.run) return;
      if (!built || built.run !== state.run) build(state);
      for (const c of built.cards) {
        const s = state.samples[c.info.index];
        if (!s) continue;
        const proposer = state.proposer === c.info.index;
        c.card.className = 'card ' + c.info.role + ' ' + s.health + (s.byz ? ' byzantine' : '') + (proposer ? ' proposer' : '');
        c.health.textContent = s.byz ? 'byzantine · ' + s.byz : s.health;
        c.hr.textContent = 'h ' + s.h + ' · r ' + s.r;
        const pct = Math.max(0, Math.min(100, s.bat));
        c.batFill.style.width = pct.toFixed(0) + '%';
        c.batFill.className = 'fill' + (pct < 25 ? ' low' : pct < 45 ? ' mid' : '');
        c.batText.textContent = pct.toFixed(0) + '%';
        c.mode.textContent = s.mode + (s.u > 0.5 ? ' · ' + s.u.toFixed(0) + ' m' : '');
        c.mode.title = c.mode.textContent; // cut short with an ellipsis in a narrow card
      }
      if (built.strip) {
        const cells = built.strip.children;
        for (let i = 0; i < cells.length; i++) {
          const s = state.samples[i];
          const cls = 'cell ' + (s ? s.health : 'unknown') + (s && s.byz ? ' byzantine' : '');
          if (cells[i].className !== cls) cells[i].className = cls;
        }
      }
    }

    return { render };
  }
  ns.createPanels = createPanels;
})(globalThis);
