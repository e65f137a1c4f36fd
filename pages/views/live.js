// The live view's browser side (pages/views/live.py): it asks the server for work, one request at a time, only while
// the tab is visible and someone is there; it keeps the frames the server sent and draws them on canvases (image
// grids, 2-D chains over a density, marginal histograms, energy traces), at `fps` while playing and at the frame the
// scrubber picks while paused: one drawing code for both, so they match by construction.
//
// Data from the server: {run, mode, status, head, seq, fps, gap_ms, idle_ms, scene, frames, first}
//   scene: {id, rows: [[panel, ...], ...]} (sent once per run; the browser asks again after it lost it);
//   frames: [{i, step, caption, parts: {name: base64 of uint8 or float32 values}}], new frames only.
// Events to the server (setTriggerValue("event", ...)): {what: "more" | "resend" | "idle" | "hidden" | "visible", n}.
// Data {chart} (live.py: chart) is a line chart instead, drawn by chart() below with none of the frames' machinery.

function liveness() {  // the time of the last pointer or key input on this page, shared by every live view
  if (!window.__genlibLive) {
    const L = window.__genlibLive = { last: Date.now() };
    const touch = () => { L.last = Date.now(); };
    for (const ev of ["pointerdown", "pointermove", "keydown", "wheel", "touchstart"])
      document.addEventListener(ev, touch, { capture: true, passive: true });
  }
  return window.__genlibLive;
}

function pauseReason(idleMs) {  // why a live view must not ask for work now: "hidden", "idle" or null
  if (document.visibilityState !== "visible") return "hidden";
  if (Date.now() - liveness().last > idleMs) return "idle";
  return null;
}

// base64 -> Float32Array ("f4", little-endian as numpy writes it), Uint8Array ("u1"), or binary pixels packed eight
// to a byte ("b1", numpy.packbits: most significant bit first) unpacked to 0 / 255
function decode(b64, type) {
  const s = atob(b64), u = new Uint8Array(s.length);
  for (let k = 0; k < s.length; k++) u[k] = s.charCodeAt(k);
  if (type === "f4") return new Float32Array(u.buffer);
  if (type !== "b1") return u;
  const out = new Uint8Array(8 * u.length);
  for (let k = 0; k < out.length; k++) out[k] = (u[k >> 3] >> (7 - (k & 7))) & 1 ? 255 : 0;
  return out;
}

function niceTicks(lo, hi, n = 5) {  // round numbers spanning [lo, hi]
  const raw = (hi - lo) / n, mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) out.push(+t.toPrecision(6));
  return out;
}

function fmtNum(v) {
  const a = Math.abs(v);
  return a !== 0 && (a >= 1e4 || a < 1e-3) ? v.toExponential(0) : String(+v.toPrecision(4));
}

function colors(el) {  // the theme's text colour and a faint grid colour, read from the page (light and dark themes)
  const cs = getComputedStyle(el), [r, g, b] = (cs.color.match(/[\d.]+/g) || [0, 0, 0]).map(Number);
  return { ink: cs.color || "#333", faint: "rgba(128,128,128,0.35)", font: cs.fontFamily || "sans-serif",
           dark: 0.299 * r + 0.587 * g + 0.114 * b > 128 };  // light text: a dark page
}

// a density picture for a dark page: its lightness turned over, its hue and colourfulness kept (white -> black,
// pale blue -> dark blue, deep blue -> light blue), so that it is not a white box there; made once per picture
function darkened(img) {
  const c = document.createElement("canvas"), g = c.getContext("2d");
  c.width = img.naturalWidth; c.height = img.naturalHeight;
  g.drawImage(img, 0, 0);
  const d = g.getImageData(0, 0, c.width, c.height), px = d.data;
  for (let o = 0; o < px.length; o += 4) {
    const s = 255 - Math.max(px[o], px[o + 1], px[o + 2]) - Math.min(px[o], px[o + 1], px[o + 2]);
    px[o] += s; px[o + 1] += s; px[o + 2] += s;
  }
  g.putImageData(d, 0, 0);
  return c;
}

// a canvas sized `w` x `h` CSS pixels, drawn at the screen's pixel density; in a narrower row the panels shrink in
// proportion to their widths (flex-shrink weighs each by its width), so a wide panel stays wider than a narrow one
function makeCanvas(w, h) {
  const c = document.createElement("canvas"), r = window.devicePixelRatio || 1;
  c.width = Math.round(w * r); c.height = Math.round(h * r);
  c.style.width = w + "px"; c.style.maxWidth = "100%"; c.style.aspectRatio = `${w} / ${h}`;
  const g = c.getContext("2d");
  g.scale(r, r);
  return { c, g, w, h };
}

function axes(g, t, box, xr, yr, labels, title) {  // frame, ticks, labels and title around the plot box
  const [L, T, W, H] = box;
  g.strokeStyle = t.ink; g.fillStyle = t.ink; g.lineWidth = 1;
  g.font = `12px ${t.font}`;
  g.strokeRect(L - 0.5, T - 0.5, W + 1, H + 1);
  g.textAlign = "center"; g.textBaseline = "top";
  for (const v of niceTicks(xr[0], xr[1])) {
    const X = L + (v - xr[0]) / (xr[1] - xr[0]) * W;
    g.beginPath(); g.moveTo(X, T + H); g.lineTo(X, T + H + 4); g.stroke();
    g.fillText(fmtNum(v), X, T + H + 6);
  }
  g.textAlign = "right"; g.textBaseline = "middle";
  for (const v of niceTicks(yr[0], yr[1], 4)) {
    const Y = T + H - (v - yr[0]) / (yr[1] - yr[0]) * H;
    g.beginPath(); g.moveTo(L - 4, Y); g.lineTo(L, Y); g.stroke();
    g.fillText(fmtNum(v), L - 6, Y);
  }
  g.font = `13px ${t.font}`;
  g.textAlign = "center"; g.textBaseline = "bottom";
  if (labels && labels[0]) g.fillText(labels[0], L + W / 2, T + H + 36);
  if (labels && labels[1]) {
    g.save(); g.translate(14, T + H / 2); g.rotate(-Math.PI / 2); g.fillText(labels[1], 0, 0); g.restore();
  }
  if (title) { g.textAlign = "left"; g.textBaseline = "top"; g.font = `600 14px ${t.font}`; g.fillText(title, 8, 6); }
}

// ---- the panels: each draws frame k of the frames held (v.frames), the same while playing and paused ----
const DRAW = {
  images(p, v, k, cv) {  // a grid of grey images (uint8, 0 black .. 255 white), white gaps (dark grey on a dark page)
    const f = v.frames[k], data = f && f.parts[p.part];
    const { g, w, h } = cv, t = colors(v.root);
    g.clearRect(0, 0, w, h);
    if (!data) return;
    const n = data.length / (p.h * p.w), cols = p.nrow, rows = Math.ceil(n / cols), pad = 2;
    const gw = cols * (p.w + pad) + pad, gh = rows * (p.h + pad) + pad;
    if (!cv.img || cv.img.width !== gw || cv.img.height !== gh) {
      cv.off = document.createElement("canvas"); cv.off.width = gw; cv.off.height = gh;
      cv.img = cv.off.getContext("2d").createImageData(gw, gh);
    }
    const px = cv.img.data;
    const gap = t.dark ? 80 : 255;
    for (let o = 0; o < px.length; o += 4) { px[o] = px[o + 1] = px[o + 2] = gap; px[o + 3] = 255; }
    for (let m = 0; m < n; m++) {
      const ox = pad + (m % cols) * (p.w + pad), oy = pad + Math.floor(m / cols) * (p.h + pad);
      for (let y = 0; y < p.h; y++) for (let x = 0; x < p.w; x++) {
        const val = data[m * p.h * p.w + y * p.w + x], o = 4 * ((oy + y) * gw + ox + x);
        px[o] = px[o + 1] = px[o + 2] = val;
      }
    }
    cv.off.getContext("2d").putImageData(cv.img, 0, 0);
    const side = Math.min(w, h - 22);
    g.imageSmoothingEnabled = false;
    g.drawImage(cv.off, 0, 0, side, side * gh / gw);
    g.fillStyle = t.ink; g.font = `13px ${t.font}`; g.textAlign = "left"; g.textBaseline = "bottom";
    g.globalAlpha = 0.7; g.fillText(`${p.title} · step ${f.step}`, 0, h - 2); g.globalAlpha = 1;
  },

  points(p, v, k, cv) {  // chains as dots over the exact density, trails of the first few chains
    const { g, w, h } = cv, t = colors(v.root), box = [56, 30, w - 56 - 12, h - 30 - 44];
    const [x0, x1, y0, y1] = p.extent, [L, T, W, H] = box;
    g.clearRect(0, 0, w, h);
    if (p.bg && !cv.bg) { cv.bg = new Image(); cv.bg.onload = () => v.draw(); cv.bg.src = p.bg; }
    if (cv.bg && cv.bg.complete) g.drawImage(t.dark ? (cv.bgDark ||= darkened(cv.bg)) : cv.bg, L, T, W, H);
    axes(g, t, box, [x0, x1], [y0, y1], p.labels, p.title);
    const X = (a) => L + (a - x0) / (x1 - x0) * W, Y = (b) => T + H - (b - y0) / (y1 - y0) * H;
    g.save(); g.beginPath(); g.rect(L, T, W, H); g.clip();
    g.strokeStyle = t.dark ? "rgba(210, 210, 210, 0.5)" : "rgba(60, 60, 60, 0.55)"; g.lineWidth = 1;
    for (let c = 0; c < p.trails; c++) {  // the trail of chain c over the last trail_frames frames
      g.beginPath();
      let on = false;
      for (let j = Math.max(0, k - p.trail_frames); j <= k; j++) {
        const q = v.frames[j] && v.frames[j].parts[p.part];
        if (!q || 2 * c + 1 >= q.length || !isFinite(q[2 * c]) || !isFinite(q[2 * c + 1])) { on = false; continue; }
        if (on) g.lineTo(X(q[2 * c]), Y(q[2 * c + 1])); else g.moveTo(X(q[2 * c]), Y(q[2 * c + 1]));
        on = true;
      }
      g.stroke();
    }
    const q = v.frames[k] && v.frames[k].parts[p.part];
    if (q) {
      g.fillStyle = p.color; g.globalAlpha = 0.75;
      for (let c = 0; c < Math.min(q.length / 2, p.points); c++) {
        if (!isFinite(q[2 * c]) || !isFinite(q[2 * c + 1])) continue;
        g.beginPath(); g.arc(X(q[2 * c]), Y(q[2 * c + 1]), 2, 0, 2 * Math.PI); g.fill();
      }
      g.globalAlpha = 1;
    }
    g.restore();
  },

  marginals(p, v, k, cv) {  // histograms of x1 and x2 of the named point panels (step lines) over the exact ones
    const { g, w, h } = cv, t = colors(v.root), gap = 24, ml = 56, mr = 12, mt = 30, mb = 44;
    const pw = (w - gap - 2 * (ml + mr)) / 2, ph = h - mt - mb;
    g.clearRect(0, 0, w, h);
    let x = 8;  // the legend
    g.font = `13px ${t.font}`; g.textBaseline = "middle"; g.textAlign = "left";
    for (const name of p.of.concat(["exact"])) {
      g.strokeStyle = name === "exact" ? t.ink : p.colors[name]; g.lineWidth = name === "exact" ? 2 : 3;
      g.setLineDash(name === "exact" ? [3, 3] : []);
      g.beginPath(); g.moveTo(x, 12); g.lineTo(x + 18, 12); g.stroke();
      g.fillStyle = t.ink; g.fillText(name, x + 22, 12);
      x += 36 + g.measureText(name).width;
    }
    g.setLineDash([]);
    const f = v.frames[k];
    for (let j = 0; j < 2; j++) {
      const lo = p.extent[2 * j], hi = p.extent[2 * j + 1], ymax = p.ymax[j], left = ml + j * (pw + ml + mr + gap);
      axes(g, t, [left, mt, pw, ph], [lo, hi], [0, ymax], [p.labels[j], j === 0 ? "density" : ""], "");
      const X = (a) => left + (a - lo) / (hi - lo) * pw, Y = (b) => mt + ph - Math.min(b / ymax, 1) * ph;
      const bins = p.bins, width = (hi - lo) / bins;
      for (const name of p.of) {
        const q = f && f.parts[name];
        if (!q) continue;
        const hist = new Float64Array(bins);
        let live = 0;
        for (let c = 0; c < q.length / 2; c++) {
          const a = q[2 * c + j];
          if (!isFinite(q[2 * c]) || !isFinite(q[2 * c + 1])) continue;
          live++;
          const b = Math.floor((a - lo) / width);
          if (b >= 0 && b < bins) hist[b]++;
          else if (a === hi) hist[bins - 1]++;
        }
        if (!live) continue;  // no live chain: no histogram (a flat 0 would read as a density)
        g.strokeStyle = p.colors[name]; g.lineWidth = 2; g.beginPath();
        for (let b = 0; b < bins; b++) {
          const y = Y(hist[b] / live / width);
          if (b === 0) g.moveTo(X(lo), y); else g.lineTo(X(lo + b * width), y);
          g.lineTo(X(lo + (b + 1) * width), y);
        }
        g.stroke();
      }
      const ex = p.exact[j];  // the exact marginal, dotted
      g.strokeStyle = t.ink; g.lineWidth = 2; g.setLineDash([3, 3]); g.beginPath();
      ex.x.forEach((a, m) => { if (m === 0) g.moveTo(X(a), Y(ex.p[m])); else g.lineTo(X(a), Y(ex.p[m])); });
      g.stroke(); g.setLineDash([]);
    }
  },

  traces(p, v, k, cv) {  // one line per chain of a per-chain value over the steps held, grey mean, marker at frame k
    const { g, w, h } = cv, t = colors(v.root), box = [64, 30, w - 64 - 12, h - 30 - 44];
    const [L, T, W, H] = box;
    g.clearRect(0, 0, w, h);
    const held = [];
    for (let j = 0; j <= k; j++) if (v.frames[j] && v.frames[j].parts[p.part]) held.push(v.frames[j]);
    if (!held.length) return;
    let lo = Infinity, hi = -Infinity;
    const from = p.zoom_from ? held.filter((f) => f.step >= p.zoom_from) : held;
    for (const f of (from.length ? from : held)) for (const e of f.parts[p.part]) if (isFinite(e)) {
      lo = Math.min(lo, e); hi = Math.max(hi, e);
    }
    if (!isFinite(lo)) return;
    if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
    const pad = 0.05 * (hi - lo); lo -= pad; hi += pad;
    const s0 = held[0].step, s1 = Math.max(held[held.length - 1].step, s0 + 1);
    axes(g, t, box, [s0, s1], [lo, hi], [p.xlabel, p.ylabel], p.title);
    const X = (s) => L + (s - s0) / (s1 - s0) * W, Y = (e) => T + H - (Math.min(Math.max(e, lo), hi) - lo) / (hi - lo) * H;
    const n = held[0].parts[p.part].length;
    g.save(); g.beginPath(); g.rect(L, T, W, H); g.clip();
    g.lineWidth = 1; g.strokeStyle = p.color || "#0072B2"; g.globalAlpha = 0.35;
    for (let c = 0; c < n; c++) {
      g.beginPath();
      held.forEach((f, m) => { const e = f.parts[p.part][c]; if (m === 0) g.moveTo(X(f.step), Y(e)); else g.lineTo(X(f.step), Y(e)); });
      g.stroke();
    }
    g.globalAlpha = 1; g.strokeStyle = t.ink; g.lineWidth = 2; g.beginPath();
    held.forEach((f, m) => {
      let s = 0, c = 0;
      for (const e of f.parts[p.part]) if (isFinite(e)) { s += e; c++; }
      if (m === 0) g.moveTo(X(f.step), Y(s / c)); else g.lineTo(X(f.step), Y(s / c));
    });
    g.stroke(); g.restore();
  },
};

// ---- line charts sent as data (live.py: chart): training curves, drawn here instead of by plotly on the server ----
// c: {title, xlabel, ylabel, log_y, height, projector, series: [{name, x, y (null: a gap), color, dash, opacity, width,
// markers}]}. The canvas is as wide as its container (redrawn when that changes); moving the pointer over the plot
// shows the values of every series at the nearest step.

const DASHES = { solid: [], dash: [6, 4], dot: [2, 3] };

function logTicks(lo, hi) {  // ticks of a log axis given in log10 units: the powers of ten in range, or where there
  // are fewer than three of them (less than two decades shown), round values of the span (all in log10 units)
  const out = [];
  for (let e = Math.ceil(lo - 1e-9); e <= hi + 1e-9; e++) out.push(e);
  if (out.length >= 3) return out;
  return niceTicks(Math.pow(10, lo), Math.pow(10, hi), 8).filter((v) => v > 0).map(Math.log10);
}

function fmtLog(t) {  // a tick of a log axis (log10 units) as its value
  const v = Math.pow(10, t), e = Math.round(t);
  return Math.abs(t - e) < 1e-9 && (e >= 4 || e <= -3) ? `1e${e}` : fmtNum(+v.toPrecision(3));
}

function drawChart(el) {
  const c = el.chart, cv = el.canvasState, t = colors(el), P = c.projector;
  const fs = P ? 18 : 13, ts = P ? 16 : 12, tfs = P ? 18 : 14;  // text, ticks, title (px)
  const w = Math.max(200, el.clientWidth || 600), h = c.height, r = window.devicePixelRatio || 1;
  if (cv.c.width !== Math.round(w * r) || cv.c.height !== Math.round(h * r)) {
    cv.c.width = Math.round(w * r); cv.c.height = Math.round(h * r);
    cv.c.style.width = w + "px"; cv.c.style.height = h + "px";
  }
  const g = cv.c.getContext("2d");
  g.setTransform(r, 0, 0, r, 0, 0);
  g.clearRect(0, 0, w, h);
  const Y = c.log_y ? (v) => (v > 0 ? Math.log10(v) : NaN) : (v) => v;  // values in axis units (log10 on a log axis)
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const s of c.series) s.x.forEach((x, i) => {
    const y = s.y[i] === null ? NaN : Y(s.y[i]);
    if (!isFinite(x) || !isFinite(y)) return;
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  });
  if (!isFinite(x0)) { x0 = 0; x1 = 1; y0 = 0; y1 = 1; }
  if (x1 - x0 < 1e-9) { x0 -= 1; x1 += 1; }
  if (y1 - y0 < 1e-12) { const d = c.log_y ? 0.5 : Math.max(Math.abs(y0) * 0.1, 1); y0 -= d; y1 += d; }
  const pad = 0.06 * (y1 - y0); y0 -= pad; y1 += pad;
  // the legend (as plotly's: only for two series or more): under the title, wrapped over as many lines as it needs
  // or, where it fits, on the title's line at the right
  g.font = `600 ${tfs}px ${t.font}`;
  const titleW = c.title ? g.measureText(c.title).width : 0;
  g.font = `${fs}px ${t.font}`;
  const named = c.series.length > 1 ? c.series : [], items = [];
  const widths = named.map((s) => 30 + g.measureText(s.name).width + 16), all = widths.reduce((a, b) => a + b, 0);
  const beside = named.length && c.title && titleW + 24 + all <= w - 8;
  const top = c.title ? tfs + 14 : 6;
  let lx = beside ? w - all : 8, ly = beside ? 6 + tfs / 2 + 1 : top + fs / 2, lines = named.length && !beside ? 1 : 0;
  named.forEach((s, i) => {
    if (!beside && lx + widths[i] > w - 8 && lx > 8) { lx = 8; ly += fs + 8; lines++; }
    items.push([s, lx, ly]); lx += widths[i];
  });
  const T = top + lines * (fs + 8) + 6, H = Math.max(10, h - T - ts - (c.xlabel ? fs + 22 : 14));
  const yt = c.log_y ? logTicks(y0, y1) : niceTicks(y0, y1, Math.max(3, Math.floor(H / 45))), yfmt = c.log_y ? fmtLog : fmtVal;
  g.font = `${ts}px ${t.font}`;
  const tw = Math.max(0, ...yt.map((v) => g.measureText(yfmt(v)).width));
  const L = (c.ylabel ? fs + 12 : 6) + tw + 10, W = Math.max(10, w - L - 16);
  cv.box = [L, T, W, H]; cv.xr = [x0, x1];
  const X = (x) => L + (x - x0) / (x1 - x0) * W, V = (y) => T + H - (y - y0) / (y1 - y0) * H;
  // the axes: a frame, grid lines at the ticks, the tick labels and the axis labels
  g.strokeStyle = t.ink; g.fillStyle = t.ink; g.lineWidth = 1;
  g.strokeRect(L - 0.5, T - 0.5, W + 1, H + 1);
  g.textAlign = "center"; g.textBaseline = "top";
  for (const v of niceTicks(x0, x1, Math.max(2, Math.min(8, Math.floor(W / 90))))) {
    const px = X(v);
    g.strokeStyle = t.faint; g.beginPath(); g.moveTo(px, T); g.lineTo(px, T + H); g.stroke();
    g.strokeStyle = t.ink; g.beginPath(); g.moveTo(px, T + H); g.lineTo(px, T + H + 4); g.stroke();
    g.fillText(fmtVal(v), px, T + H + 6);
  }
  g.textAlign = "right"; g.textBaseline = "middle";
  for (const v of yt) {
    const py = V(v);
    g.strokeStyle = t.faint; g.beginPath(); g.moveTo(L, py); g.lineTo(L + W, py); g.stroke();
    g.strokeStyle = t.ink; g.beginPath(); g.moveTo(L - 4, py); g.lineTo(L, py); g.stroke();
    g.fillText(yfmt(v), L - 6, py);
  }
  g.font = `${fs}px ${t.font}`; g.textAlign = "center"; g.textBaseline = "bottom";
  if (c.xlabel) g.fillText(c.xlabel, L + W / 2, h - 4);
  if (c.ylabel) {  // smaller where it is longer than the plot is tall (a short chart of a row of three)
    const lw = g.measureText(c.ylabel).width, yfs = lw > H + 16 ? Math.max(10, Math.floor(fs * (H + 16) / lw)) : fs;
    g.save(); g.font = `${yfs}px ${t.font}`; g.translate(fs + 2, T + H / 2); g.rotate(-Math.PI / 2);
    g.fillText(c.ylabel, 0, 0); g.restore();
  }
  if (c.title) { g.textAlign = "left"; g.textBaseline = "top"; g.font = `600 ${tfs}px ${t.font}`; g.fillText(c.title, 8, 6); }
  // the legend: a short line (with its dot) and the name of each series
  g.font = `${fs}px ${t.font}`; g.textAlign = "left"; g.textBaseline = "middle";
  for (const [s, x, y] of items) {
    g.globalAlpha = Math.max(s.opacity, 0.5); g.strokeStyle = s.color; g.lineWidth = Math.max(s.width, 2);
    g.setLineDash(DASHES[s.dash] || []); g.beginPath(); g.moveTo(x, y); g.lineTo(x + 24, y); g.stroke();
    g.setLineDash([]);
    if (s.markers) { g.fillStyle = s.color; g.beginPath(); g.arc(x + 12, y, 3, 0, 2 * Math.PI); g.fill(); }
    g.globalAlpha = 1; g.fillStyle = t.ink; g.fillText(s.name, x + 30, y);
  }
  // the series, clipped to the plot box (and the half of a dot at its edge); a null or a value a log axis cannot
  // show breaks the line
  g.save(); g.beginPath(); g.rect(L - 4, T - 4, W + 8, H + 8); g.clip();
  for (const s of c.series) {
    g.globalAlpha = s.opacity; g.strokeStyle = g.fillStyle = s.color; g.lineWidth = s.width;
    g.setLineDash(DASHES[s.dash] || []); g.beginPath();
    let on = false;
    s.x.forEach((x, i) => {
      const y = s.y[i] === null ? NaN : Y(s.y[i]);
      if (!isFinite(y)) { on = false; return; }
      if (on) g.lineTo(X(x), V(y)); else g.moveTo(X(x), V(y));
      on = true;
    });
    g.stroke(); g.setLineDash([]);
    if (s.markers) s.x.forEach((x, i) => {
      const y = s.y[i] === null ? NaN : Y(s.y[i]);
      if (isFinite(y)) { g.beginPath(); g.arc(X(x), V(y), 3, 0, 2 * Math.PI); g.fill(); }
    });
  }
  g.globalAlpha = 1;
  if (cv.hover !== null && cv.hover !== undefined) {  // the step under the pointer: a line and a dot on each series
    const px = X(cv.hover);
    g.strokeStyle = t.ink; g.globalAlpha = 0.5; g.setLineDash([3, 3]);
    g.beginPath(); g.moveTo(px, T); g.lineTo(px, T + H); g.stroke(); g.setLineDash([]); g.globalAlpha = 1;
    for (const s of c.series) {
      const i = s.x.indexOf(cv.hover), y = i < 0 || s.y[i] === null ? NaN : Y(s.y[i]);
      if (isFinite(y)) {
        g.fillStyle = s.color; g.strokeStyle = t.dark ? "#0e1117" : "#ffffff"; g.lineWidth = 1.5;
        g.beginPath(); g.arc(px, V(y), 4.5, 0, 2 * Math.PI); g.fill(); g.stroke();
      }
    }
  }
  g.restore();
}

function chartHover(el, ev) {  // the readout of the step nearest the pointer: "step 120 · train 0.041 · validation 0.043"
  const c = el.chart, cv = el.canvasState, [L, T, W, H] = cv.box, rect = cv.c.getBoundingClientRect();
  const mx = ev.clientX - rect.left, my = ev.clientY - rect.top;
  let best = null;
  if (mx >= L - 8 && mx <= L + W + 8 && my >= T && my <= T + H) {
    const at = cv.xr[0] + (mx - L) / W * (cv.xr[1] - cv.xr[0]);
    for (const s of c.series) for (const x of s.x) if (best === null || Math.abs(x - at) < Math.abs(best - at)) best = x;
  }
  if (best === cv.hover) return;
  cv.hover = best;
  drawChart(el);
  const tip = el.querySelector(".tip");
  if (best === null) { tip.hidden = true; return; }
  const rows = [`${c.xlabel || "x"} ${fmtVal(best)}`];
  for (const s of c.series) {
    const i = s.x.indexOf(best);
    if (i >= 0) rows.push(`<span style="color:${s.color}">━</span> ${escapeHtml(s.name)}: ${s.y[i] === null ? "not finite" : fmtVal(s.y[i])}`);
  }
  tip.innerHTML = rows.join("<br>");
  tip.hidden = false;
  const px = L + (best - cv.xr[0]) / (cv.xr[1] - cv.xr[0]) * W;
  tip.style.top = `${T + 4}px`;
  tip.style.left = px < L + W / 2 ? `${px + 12}px` : "";
  tip.style.right = px < L + W / 2 ? "" : `${rect.width - px + 12}px`;
}

function fmtVal(v) {  // a step or a value in a chart: whole steps in full, else four significant digits
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1e7) return String(v);
  return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(3) : String(+v.toPrecision(4));
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[ch]);
}

function chart(c, parentElement) {  // the component's call with {chart}: build the element once, then redraw
  let el = parentElement.querySelector(".genlib-chart");
  if (!el) {
    el = document.createElement("div");
    el.className = "genlib-chart";
    el.innerHTML = '<canvas role="img"></canvas><div class="tip" hidden></div>';
    parentElement.appendChild(el);
    el.canvasState = { c: el.querySelector("canvas"), hover: null, box: [0, 0, 1, 1], xr: [0, 1] };
    el.canvasState.c.addEventListener("mousemove", (ev) => chartHover(el, ev));
    el.canvasState.c.addEventListener("mouseleave", () => {
      el.canvasState.hover = null; el.querySelector(".tip").hidden = true; drawChart(el);
    });
    let width = 0;
    el.observer = new ResizeObserver(() => {  // a new width (window, sidebar, column): drawn again to fit
      if (el.clientWidth !== width) { width = el.clientWidth; drawChart(el); }
    });
    el.observer.observe(el);
  }
  el.chart = c;
  const cv = el.canvasState;
  if (cv.hover !== null && !c.series.some((s) => s.x.includes(cv.hover))) { cv.hover = null; el.querySelector(".tip").hidden = true; }
  cv.c.setAttribute("aria-label", `${c.title || "chart"}: ${c.series.map((s) => s.name).join(", ")} against ${c.xlabel}`);
  drawChart(el);
  el.dataset.points = String(c.series.reduce((n, s) => n + s.x.length, 0));
  return () => { el.observer.disconnect(); el.remove(); };
}

export default function ({ data, parentElement, setTriggerValue }) {
  if (data && data.chart) return chart(data.chart, parentElement);  // a line chart: none of the frames' machinery
  let v = parentElement.live;
  if (!v) {  // first call: the DOM, the held frames and one timer
    const root = document.createElement("div");
    root.className = "genlib-live";
    root.dataset.shown = root.dataset.waits = root.dataset.asks = "0";
    root.innerHTML = '<div class="head"></div><div class="rows"></div><input class="scrub" type="range" min="0" ' +
                     'max="0" value="0" aria-label="Frame"><div class="cap"></div><div class="status"></div>';
    parentElement.appendChild(root);
    v = parentElement.live = { root, rows: root.querySelector(".rows"), cap: root.querySelector(".cap"),
                               scrub: root.querySelector(".scrub"), head: root.querySelector(".head"),
                               status: root.querySelector(".status"), frames: [], queue: [], base: 0, shown: -1, run: null,
                               scene: null, canvases: [], asked: 0, n: 0, seq: null, reported: null, due: null };
    v.draw = () => {  // frame v.shown on every panel
      const k = v.shown - v.base;
      if (k < 0 || k >= v.frames.length || !v.scene) return;
      v.canvases.forEach(({ p, cv }) => DRAW[p.kind](p, v, k, cv));
      const f = v.frames[k];
      v.cap.textContent = f ? f.caption : "";
    };
    v.show = (k) => { v.shown = k; v.draw(); };
    v.send = (what) => { v.asked = Date.now(); v.root.dataset.asks = String(++v.n); v.set("event", { what, n: v.n }); };
    v.report = (why) => {  // tell the server once why this view stopped asking (it redraws its button and status)
      if (v.reported === why) return;
      v.reported = why;
      v.send(why);
    };
    v.tick = () => {  // every half frame period: the next queued frame once it is due
      const d = v.data;
      if (!d) return;
      const now = performance.now();
      if (v.queue.length && (v.due === null || now >= v.due)) {
        v.show(v.queue.shift());
        v.root.dataset.shown = String(+v.root.dataset.shown + 1);  // frames displayed: what the benches count
        // the next one a frame period after this one was due (a timer's lateness does not add up), unless this one
        // came a whole period late: then a period from now (no burst of frames to catch up)
        v.due = v.due === null || now - v.due > v.frameMs ? now + v.frameMs : v.due + v.frameMs;
      } else if (!v.queue.length) {
        v.due = null;  // nothing to play: the next frame shows when it comes
        if (d.mode === "playing" && d.fps > 0) v.root.dataset.waits = String(+v.root.dataset.waits + 1);
      }
      v.updateScrub();
      // ask for more while a batch is still queued (again after 20 s if no answer came), not before the fair-share
      // wait, only while playing, the tab is visible and someone is there
      if (d.mode !== "playing" || v.queue.length > v.low || Date.now() < v.notBefore) return;
      if (v.asked && Date.now() - v.asked < 20000) return;
      const why = pauseReason(d.idle_ms);
      if (why) v.report(why); else v.send("more");
    };
    v.updateScrub = () => {
      const still = v.data.mode !== "playing" && !v.queue.length && v.frames.length > 1;
      v.scrub.style.visibility = still ? "visible" : "hidden";  // its room kept: nothing moves on Play/Pause
      if (still) { v.scrub.min = String(v.base); v.scrub.max = String(v.base + v.frames.length - 1); v.scrub.value = String(v.shown); }
    };
    v.scrub.oninput = () => v.show(+v.scrub.value);
    v.onVis = () => {
      const d = v.data;
      if (!d) return;
      if (document.visibilityState === "visible" && d.mode === "hidden") { v.reported = null; v.send("visible"); }
    };
    document.addEventListener("visibilitychange", v.onVis);
    liveness();
  }
  v.set = setTriggerValue;
  const fresh = data.seq !== v.seq;
  v.data = data;
  if (data.run !== v.run) {  // new chains or a new run: start over
    v.run = data.run; v.frames = []; v.queue = []; v.base = 0; v.shown = -1; v.scene = null;
  }
  if (data.scene && (!v.scene || v.scene.id !== data.scene.id)) {  // the still parts: build the canvases once
    v.scene = data.scene;
    v.rows.innerHTML = "";
    v.canvases = [];
    for (const row of data.scene.rows) {
      const div = document.createElement("div");
      div.className = "row";
      for (const p of row) {
        const cv = makeCanvas(p.width, p.height);
        div.appendChild(cv.c);
        v.canvases.push({ p, cv });
      }
      v.rows.appendChild(div);
    }
  }
  const types = {};
  if (v.scene) for (const row of v.scene.rows) for (const p of row) if (p.part) types[p.part] = p.dtype;
  for (const f of data.frames || []) {  // new frames only: decoded once, kept for the scrubber and the traces
    const next = v.base + v.frames.length;
    if (v.frames.length && f.i < next) continue;  // held already
    if (!v.frames.length || f.i > next) { v.frames = []; v.queue = []; v.base = f.i; }  // a gap: start again here
    const parts = {};
    for (const [name, b64] of Object.entries(f.parts)) parts[name] = decode(b64, types[name] || "f4");
    v.frames.push({ step: f.step, caption: f.caption, parts });
    if (data.play) v.queue.push(f.i);
    else {  // shown at once (no fps: one frame per answer; or stills)
      v.shown = f.i;
      if (data.mode === "playing") v.root.dataset.shown = String(+v.root.dataset.shown + 1);
    }
  }
  const over = v.frames.length - (data.keep || 1000);  // the server's window: the oldest frames go
  if (over > 0) {
    v.frames.splice(0, over); v.base += over;
    v.queue = v.queue.filter((i) => i >= v.base);
    if (v.shown < v.base) v.shown = v.base;
  }
  if (fresh) {  // an answer (or a full rerun): the next ask may go once the fair-share wait is over
    v.seq = data.seq;
    v.asked = 0;
    v.notBefore = Date.now() + (data.gap_ms || 0);
    // ask again once half a batch is left to play: the answer has that long to come back, and what is shown stays
    // at most a batch and a half behind the server (a new β shows within that; a deeper queue showed it later)
    v.low = Math.max(1, Math.floor((data.frames || []).length / 2));
    if (data.mode === "playing" || data.mode === "paused" || data.mode === "finished") v.reported = null;
    // visible again before this answer to "hidden" came (the visibilitychange found the view still playing)
    if (data.mode === "hidden" && document.visibilityState === "visible") v.send("visible");
    // the frames or the scene missing (a remount): ask for them again
    if (data.run && ((data.count > 0 && !v.frames.length) || (data.scene_id && !v.scene))) v.send("resend");
  }
  if (v.shown < v.base && v.frames.length && !v.queue.length) v.shown = v.base + v.frames.length - 1;
  v.head.textContent = data.head || "";
  v.head.hidden = !data.head;
  v.status.textContent = data.status || "";
  v.root.dataset.mode = data.mode;
  v.root.dataset.held = String(v.frames.length);
  const frameMs = data.fps > 0 ? 1000 / data.fps : 100;
  if (v.frameMs !== frameMs) {  // one steady timer (restarting it at every answer would delay the next frame)
    clearInterval(v.timer);
    v.frameMs = frameMs;
    v.due = null;
    v.timer = setInterval(v.tick, frameMs / 2);
  }
  v.draw();
  v.updateScrub();
  return () => { clearInterval(v.timer); v.frameMs = null; document.removeEventListener("visibilitychange", v.onVis); };
}
