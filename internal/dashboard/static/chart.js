'use strict';
// The throughput-and-lag chart: hand-written SVG, two y axes (throughput on
// the left, lag on the right), a time axis spanning the samples kept (at
// least two minutes, at most the last hour), and a hover read-out.
window.MailsyncChart = (function () {
  const NS = 'http://www.w3.org/2000/svg';
  const MINUTE = 60e3, HOUR = 3600e3;
  const PAD = { left: 52, right: 56, top: 12, bottom: 26 };
  const TIME_STEPS = [10e3, 15e3, 30e3, MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE];
  const LAG_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];

  function node(tag, attrs, parent) {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(e);
    return e;
  }

  // niceStep returns the smallest 1, 2 or 5 × 10^k that is at least x.
  function niceStep(x) {
    const p = Math.pow(10, Math.floor(Math.log10(x)));
    for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
    return 10 * p;
  }

  // scale returns [top, step] for four-ish ticks covering max.
  function scale(max, steps) {
    let step;
    if (steps) step = steps.find((s) => s * 4 >= max) || steps[steps.length - 1];
    else step = niceStep(Math.max(max, 1) / 4);
    const top = Math.max(step, step * Math.ceil(max / step));
    return [top, step];
  }

  function fmtCount(v) {
    return v >= 10000 ? (v / 1000).toFixed(0) + 'k' : v >= 1000 ? (v / 1000).toFixed(1) + 'k' : String(Math.round(v));
  }

  function fmtLag(s) {
    if (s < 60) return s + ' s';
    if (s < 3600) return +(s / 60).toFixed(1) + ' min';
    return +(s / 3600).toFixed(1) + ' h';
  }

  function fmtClock(t, seconds) {
    const d = new Date(t);
    const p = (n) => String(n).padStart(2, '0');
    return p(d.getHours()) + ':' + p(d.getMinutes()) + (seconds ? ':' + p(d.getSeconds()) : '');
  }

  // render draws samples ({t, thr, lag}, oldest first) into el. gapMs is the
  // longest interval drawn as one line; a longer one (a paused tab, a failed
  // poll) breaks the lines.
  function render(el, samples, now, gapMs) {
    const W = Math.max(el.clientWidth, 320), H = Math.max(el.clientHeight, 160);
    const x0 = PAD.left, x1 = W - PAD.right, y0 = PAD.top, y1 = H - PAD.bottom;
    const first = samples.length ? samples[0].t : now;
    const span = Math.min(HOUR, Math.max(2 * MINUTE, now - first));
    const start = now - span;
    const [thrTop, thrStep] = scale(Math.max(0, ...samples.map((s) => s.thr)), null);
    const [lagTop, lagStep] = scale(Math.max(0, ...samples.map((s) => s.lag)), LAG_STEPS);
    const X = (t) => x0 + ((t - start) / span) * (x1 - x0);
    const YT = (v) => y1 - (v / thrTop) * (y1 - y0);
    const YL = (v) => y1 - (v / lagTop) * (y1 - y0);

    const root = node('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'Throughput and lag over time' });
    const grid = node('g', { class: 'grid' }, root);
    const axis = node('g', { class: 'axis' }, root);
    for (let v = 0; v <= thrTop + 1e-9; v += thrStep) {
      const y = YT(v);
      node('line', { x1: x0, x2: x1, y1: y, y2: y }, grid);
      node('text', { x: x0 - 8, y: y + 4, 'text-anchor': 'end' }, axis).textContent = fmtCount(v);
    }
    for (let v = 0; v <= lagTop + 1e-9; v += lagStep) {
      node('text', { x: x1 + 8, y: YL(v) + 4, 'text-anchor': 'start' }, axis).textContent = fmtLag(v);
    }
    const tStep = TIME_STEPS.find((s) => span / s <= 6) || 15 * MINUTE;
    for (let t = Math.ceil(start / tStep) * tStep; t <= now; t += tStep) {
      const x = X(t);
      if (x - x0 < 24 || x1 - x < 44) continue; // keep clear of the edges and "now"
      node('line', { x1: x, x2: x, y1: y0, y2: y1 }, grid);
      node('text', { x, y: H - 6, 'text-anchor': 'middle' }, axis).textContent = fmtClock(t, tStep < MINUTE);
    }
    node('text', { x: x1, y: H - 6, 'text-anchor': 'end' }, axis).textContent = 'now';

    const pts = samples.filter((s) => s.t >= start);
    if (pts.length < 2) {
      node('text', { class: 'empty', x: (x0 + x1) / 2, y: (y0 + y1) / 2, 'text-anchor': 'middle' }, root)
        .textContent = 'Collecting samples… the chart fills in as this page polls.';
    }
    // Runs of samples without gaps.
    const runs = [];
    let run = [];
    for (const s of pts) {
      if (run.length && s.t - run[run.length - 1].t > gapMs) { runs.push(run); run = []; }
      run.push(s);
    }
    if (run.length) runs.push(run);
    let area = '', thr = '', lag = '';
    for (const r of runs) {
      const line = (Y, key) => r.map((s, i) => (i ? 'L' : 'M') + X(s.t).toFixed(1) + ' ' + Y(s[key]).toFixed(1)).join(' ');
      const l = line(YT, 'thr');
      thr += l + ' ';
      lag += line(YL, 'lag') + ' ';
      area += l + ` L${X(r[r.length - 1].t).toFixed(1)} ${y1} L${X(r[0].t).toFixed(1)} ${y1} Z `;
    }
    node('path', { class: 'thr-area', d: area.trim() }, root);
    node('path', { class: 'thr-line', d: thr.trim() }, root);
    node('path', { class: 'lag-line', d: lag.trim() }, root);
    const cursor = node('line', { class: 'cursor', y1: y0, y2: y1, visibility: 'hidden' }, root);

    el.replaceChildren(root);
    el.dataset.samples = String(pts.length);
    const tip = document.createElement('div');
    tip.className = 'tip';
    tip.hidden = true;
    el.appendChild(tip);

    root.addEventListener('mousemove', (ev) => {
      if (!pts.length) return;
      const box = root.getBoundingClientRect();
      const px = ((ev.clientX - box.left) / box.width) * W;
      let best = pts[0];
      for (const s of pts) if (Math.abs(X(s.t) - px) < Math.abs(X(best.t) - px)) best = s;
      const x = X(best.t);
      cursor.setAttribute('x1', x);
      cursor.setAttribute('x2', x);
      cursor.setAttribute('visibility', 'visible');
      tip.textContent = `${fmtClock(best.t, true)} · ${best.thr} msg/min · lag ${best.lag.toFixed(1)} s`;
      tip.style.left = (x / W) * 100 + '%';
      tip.style.top = (Math.min(YT(best.thr), YL(best.lag)) / H) * 100 + '%';
      tip.hidden = false;
    });
    root.addEventListener('mouseleave', () => {
      cursor.setAttribute('visibility', 'hidden');
      tip.hidden = true;
    });
    return span;
  }

  return { render };
})();
