// Draws the fine-tuning report's loss curve as inline SVG from the JSON data block the extension
// embeds in the page (#loss-data): training L3 per step as a faint line with its moving average
// over it (per-step losses of a few rows jump by several nats, which hides any trend), validation L2
// as points joined by a dashed line, held-out L2 before and after as two marked points. Also wires
// the "Use It Anyway" button to the extension. No chart library and no network: the page's CSP
// allows only this script.
(function () {
  'use strict';
  const SVG = 'http://www.w3.org/2000/svg';
  const W = 640;
  const H = 280;
  const M = { top: 16, right: 16, bottom: 36, left: 52 };

  function el(name, attrs, parent) {
    const node = document.createElementNS(SVG, name);
    for (const key of Object.keys(attrs)) node.setAttribute(key, String(attrs[key]));
    if (parent) parent.appendChild(node);
    return node;
  }

  function text(parent, x, y, content, cls, anchor) {
    const t = el('text', { x: x, y: y, class: cls, 'text-anchor': anchor || 'middle' }, parent);
    t.textContent = content;
    return t;
  }

  /** About `count` round tick values covering [lo, hi]. */
  function ticks(lo, hi, count) {
    if (!(hi > lo)) return [lo];
    const raw = (hi - lo) / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
    return out;
  }

  function format(v) {
    return Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(Math.abs(v) >= 10 ? 1 : 2);
  }

  /**
   * Exponential moving average over a window of about a twentieth of the run (at least 5 steps),
   * bias-corrected so the first points are not pulled towards 0.
   */
  function smooth(series) {
    const window = Math.max(5, Math.round(series.length / 20));
    const alpha = 2 / (window + 1);
    let avg = 0;
    let weight = 0;
    return series.map((p) => {
      avg = (1 - alpha) * avg + alpha * p.l3;
      weight = (1 - alpha) * weight + alpha;
      return { step: p.step, smooth: avg / weight };
    });
  }

  function draw(container, points, heldOutEnds) {
    const train = points.filter((p) => Number.isFinite(p.l3));
    const smoothed = smooth(train);
    // validationL2 since validation files choose the best step; heldOutL2 in reports of older versions.
    const heldOut = points
      .map((p) => ({ step: p.step, heldOutL2: Number.isFinite(p.validationL2) ? p.validationL2 : p.heldOutL2 }))
      .filter((p) => Number.isFinite(p.heldOutL2));
    const ends = heldOutEnds && Number.isFinite(heldOutEnds.before) && Number.isFinite(heldOutEnds.after)
      ? [{ step: 0, l2: heldOutEnds.before, label: 'before' }, { step: heldOutEnds.step, l2: heldOutEnds.after, label: 'after' }]
      : [];
    if (train.length === 0 && heldOut.length === 0) {
      container.textContent = 'No loss was recorded.';
      return;
    }
    const steps = points.map((p) => p.step).concat(ends.map((e) => e.step));
    // The axis fits the smoothed curve and the evaluations; raw spikes may leave the top (clipped).
    const values = (train.length > 1 ? smoothed.map((p) => p.smooth) : train.map((p) => p.l3))
      .concat(heldOut.map((p) => p.heldOutL2))
      .concat(ends.map((e) => e.l2));
    let x0 = Math.min.apply(null, steps);
    let x1 = Math.max.apply(null, steps);
    if (x1 === x0) x1 = x0 + 1;
    let y0 = Math.min.apply(null, values);
    let y1 = Math.max.apply(null, values);
    const pad = (y1 - y0) * 0.05 || Math.abs(y1) * 0.05 || 1;
    y0 -= pad;
    y1 += pad;
    const px = (s) => M.left + ((s - x0) / (x1 - x0)) * (W - M.left - M.right);
    const py = (v) => H - M.bottom - ((v - y0) / (y1 - y0)) * (H - M.top - M.bottom);

    const svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, class: 'loss-chart', preserveAspectRatio: 'xMidYMid meet' });
    for (const v of ticks(y0, y1, 5)) {
      el('line', { x1: M.left, x2: W - M.right, y1: py(v), y2: py(v), class: 'grid' }, svg);
      text(svg, M.left - 6, py(v) + 4, format(v), 'tick', 'end');
    }
    for (const s of ticks(x0, x1, 6)) {
      if (!Number.isInteger(s)) continue;
      el('line', { x1: px(s), x2: px(s), y1: H - M.bottom, y2: H - M.bottom + 4, class: 'axis' }, svg);
      text(svg, px(s), H - M.bottom + 16, format(s), 'tick');
    }
    el('line', { x1: M.left, x2: W - M.right, y1: H - M.bottom, y2: H - M.bottom, class: 'axis' }, svg);
    el('line', { x1: M.left, x2: M.left, y1: M.top, y2: H - M.bottom, class: 'axis' }, svg);
    text(svg, (M.left + W - M.right) / 2, H - 4, 'step', 'label');
    const yLabel = text(svg, 12, (M.top + H - M.bottom) / 2, 'loss (nats/token)', 'label');
    yLabel.setAttribute('transform', 'rotate(-90 12 ' + (M.top + H - M.bottom) / 2 + ')');

    const clip = el('clipPath', { id: 'plot-area' }, el('defs', {}, svg));
    el('rect', { x: M.left, y: M.top, width: W - M.left - M.right, height: H - M.top - M.bottom }, clip);
    const path = (series, key) => series.map((p, i) => (i === 0 ? 'M' : 'L') + px(p.step).toFixed(1) + ' ' + py(p[key]).toFixed(1)).join(' ');
    if (train.length > 1) {
      el('path', { d: path(train, 'l3'), class: 'series train-raw', 'clip-path': 'url(#plot-area)' }, svg);
      el('path', { d: path(smoothed, 'smooth'), class: 'series train' }, svg);
    } else if (train.length === 1) el('circle', { cx: px(train[0].step), cy: py(train[0].l3), r: 3, class: 'point train' }, svg);
    if (heldOut.length > 1) el('path', { d: path(heldOut, 'heldOutL2'), class: 'series held-out' }, svg);
    for (const p of heldOut) {
      const c = el('circle', { cx: px(p.step), cy: py(p.heldOutL2), r: 3.5, class: 'point held-out' }, svg);
      el('title', {}, c).textContent = 'step ' + p.step + ': validation L2 ' + p.heldOutL2.toFixed(3);
    }
    for (const e of ends) {
      const r = el('rect', { x: px(e.step) - 4, y: py(e.l2) - 4, width: 8, height: 8, class: 'point held-out-end' }, svg);
      el('title', {}, r).textContent = 'held-out L2 ' + e.label + ' training: ' + e.l2.toFixed(3);
    }

    const legend = el('g', { class: 'legend', transform: 'translate(' + (W - M.right - 330) + ' ' + (M.top + 4) + ')' }, svg);
    el('line', { x1: 0, x2: 18, y1: 6, y2: 6, class: 'series train' }, legend);
    text(legend, 24, 10, 'training L3 (averaged)', 'label', 'start');
    el('line', { x1: 150, x2: 168, y1: 6, y2: 6, class: 'series held-out' }, legend);
    text(legend, 174, 10, 'validation L2', 'label', 'start');
    el('rect', { x: 256, y: 2, width: 8, height: 8, class: 'point held-out-end' }, legend);
    text(legend, 270, 10, 'held-out L2', 'label', 'start');
    container.appendChild(svg);
  }

  const button = document.getElementById('use-anyway');
  if (button && typeof acquireVsCodeApi === 'function') {
    const vscode = acquireVsCodeApi();
    button.addEventListener('click', () => {
      vscode.postMessage({ type: 'useAnyway' });
      button.disabled = true;
      button.textContent = 'Switched on';
    });
  }

  const data = document.getElementById('loss-data');
  const container = document.getElementById('loss-chart');
  if (!data || !container) return;
  try {
    const parsed = JSON.parse(data.textContent || '{}');
    draw(container, parsed.points || [], parsed.heldOut);
  } catch (err) {
    container.textContent = 'The loss curve could not be drawn: ' + err;
  }
})();
