// The latent map's browser side (pages/views/latent_map.py reads this file at import).
// Streamlit calls the default export again with each new `data` on the same parentElement: the map's state (images,
// the base layer, the hover position) lives on parentElement; the returned cleanup runs once on unmount.
const PAD = { l: 48, r: 10, t: 10, b: 40 };

function niceStep(span) {
  for (const s of [0.02, 0.05, 0.1, 0.25, 0.5, 1, 2, 5]) if (span / s <= 8) return s;
  return 10;
}

function css(el, name, fallback) {
  const v = getComputedStyle(el).getPropertyValue(name).trim();
  return v || fallback;
}

function layout(m) {
  const d = m.data;  // as wide as the column allows, at most max_size, and no taller than 85 % of the window
  // the side panel (the hover cell) goes beside the map when there is room for both, else below it
  const full = m.root.clientWidth || 480, beside = full - d.cell_px - 24;
  const room = beside >= 300 ? beside : full;
  m.root.style.flexWrap = beside >= 300 ? "nowrap" : "wrap";
  const W = Math.round(Math.max(200, Math.min(room, d.max_size, window.innerHeight * 0.85)));
  const [x0, x1, y0, y1] = d.extent;
  const pw = W - PAD.l - PAD.r, ph = pw * (y1 - y0) / (x1 - x0);
  m.W = W; m.H = Math.round(ph + PAD.t + PAD.b);
  m.sx = (x) => PAD.l + (x - x0) / (x1 - x0) * pw;
  m.sy = (y) => PAD.t + (y1 - y) / (y1 - y0) * ph;
  m.zx = (px) => x0 + (px - PAD.l) / pw * (x1 - x0);
  m.zy = (py) => y1 - (py - PAD.t) / ph * (y1 - y0);
  m.inside = (px, py) => px >= PAD.l && px <= PAD.l + pw && py >= PAD.t && py <= PAD.t + ph;
  const r = window.devicePixelRatio || 1;
  for (const c of [m.map, m.base]) { c.width = Math.round(W * r); c.height = Math.round(m.H * r); }
  m.map.style.width = W + "px"; m.map.style.height = m.H + "px";
  m.base.getContext("2d").setTransform(r, 0, 0, r, 0, 0);
  m.ctx.setTransform(r, 0, 0, r, 0, 0);
}

function drawMark(g, m, k, fg) {
  g.save();
  g.strokeStyle = k.color || fg; g.fillStyle = k.color || fg; g.lineWidth = k.width || 2;
  if (k.dash) g.setLineDash(k.dash);
  if (k.type === "rect") {
    g.strokeRect(m.sx(k.x0), m.sy(k.y1), m.sx(k.x1) - m.sx(k.x0), m.sy(k.y0) - m.sy(k.y1));
  } else if (k.type === "line" || k.type === "path") {
    g.beginPath();
    k.pts.forEach(([x, y], i) => (i ? g.lineTo(m.sx(x), m.sy(y)) : g.moveTo(m.sx(x), m.sy(y))));
    if (k.closed) g.closePath();
    if (k.halo) { g.save(); g.strokeStyle = k.halo; g.lineWidth = (k.width || 2) + 3; g.stroke(); g.restore(); }
    g.stroke();
    if (k.type === "path") k.pts.forEach(([x, y]) => { g.beginPath(); g.arc(m.sx(x), m.sy(y), 3.5, 0, 7); g.fill(); });
  } else if (k.type === "cross") {
    const X = m.sx(k.x), Y = m.sy(k.y), s = k.size || 11;
    g.lineWidth = 5; g.strokeStyle = k.halo || "#ffffff";
    g.beginPath(); g.moveTo(X - s, Y); g.lineTo(X + s, Y); g.moveTo(X, Y - s); g.lineTo(X, Y + s); g.stroke();
    g.lineWidth = 2.5; g.strokeStyle = k.color || "#D55E00";
    g.beginPath(); g.moveTo(X - s, Y); g.lineTo(X + s, Y); g.moveTo(X, Y - s); g.lineTo(X, Y + s); g.stroke();
  } else if (k.type === "star") {
    const X = m.sx(k.x), Y = m.sy(k.y), R = k.size || 10;
    g.beginPath();
    for (let i = 0; i < 10; i++) {
      const a = -Math.PI / 2 + i * Math.PI / 5, r = i % 2 ? R * 0.45 : R;
      i ? g.lineTo(X + r * Math.cos(a), Y + r * Math.sin(a)) : g.moveTo(X + r * Math.cos(a), Y + r * Math.sin(a));
    }
    g.closePath(); g.lineWidth = 2; g.strokeStyle = k.halo || "#ffffff"; g.stroke(); g.fill();
  } else if (k.type === "dots") {  // numbered samples
    g.font = "bold 11px sans-serif"; g.textBaseline = "middle";
    k.pts.forEach(([x, y], i) => {
      const X = m.sx(x), Y = m.sy(y);
      g.beginPath(); g.arc(X, Y, k.size || 5, 0, 7); g.fillStyle = k.color || fg; g.fill();
      g.lineWidth = 1.5; g.strokeStyle = k.halo || "#ffffff"; g.stroke();
      if (k.numbered) { g.fillStyle = fg; g.fillText(String(i + 1), X + 7, Y - 7); }
    });
  }
  g.restore();
}

function drawBase(m) {
  const d = m.data, g = m.base.getContext("2d"), fg = css(m.root, "--st-text-color", "#31333F");
  const [x0, x1, y0, y1] = d.extent;
  g.clearRect(0, 0, m.W, m.H);
  const L = m.sx(x0), R = m.sx(x1), T = m.sy(y1), B = m.sy(y0);
  if (d.background && m.bg.complete && m.bg.naturalWidth) {  // a decoded grid: each cell at its own z rectangle
    const ax = d.background.xs, ay = d.background.ys, c = 28;  // ys: top row first (z[y] decreasing)
    const edges = (a) => a.map((v, i) => i === 0 ? v - (a[1] - a[0]) / 2 : (a[i - 1] + v) / 2)
                          .concat([a[a.length - 1] + (a[a.length - 1] - a[a.length - 2]) / 2]);
    const ex = edges(ax), ey = edges([...ay].reverse()).reverse();  // ey: decreasing
    g.imageSmoothingEnabled = true;
    for (let j = 0; j < ay.length; j++)
      for (let i = 0; i < ax.length; i++) {
        const X = m.sx(ex[i]), Y = m.sy(ey[j]);
        g.drawImage(m.bg, i * c, j * c, c, c, X, Y, m.sx(ex[i + 1]) - X + 0.5, m.sy(ey[j + 1]) - Y + 0.5);
      }
  }
  // axes: frame, ticks in z, titles
  g.strokeStyle = fg; g.fillStyle = fg; g.globalAlpha = 0.6; g.lineWidth = 1;
  g.strokeRect(L, T, R - L, B - T);
  g.globalAlpha = 1; g.font = d.font + "px sans-serif";
  const step = niceStep(Math.max(x1 - x0, y1 - y0));
  g.textAlign = "center"; g.textBaseline = "top";
  for (let v = Math.ceil(x0 / step) * step; v <= x1 + 1e-9; v += step) {
    const X = m.sx(v); g.fillRect(X, B, 1, 5); g.fillText(+v.toFixed(2) + "", X, B + 7);
  }
  g.textAlign = "right"; g.textBaseline = "middle";
  for (let v = Math.ceil(y0 / step) * step; v <= y1 + 1e-9; v += step) {
    const Y = m.sy(v); g.fillRect(L - 5, Y, 5, 1); g.fillText(+v.toFixed(2) + "", L - 8, Y);
  }
  g.textAlign = "center"; g.textBaseline = "bottom";
  g.fillText(d.xlabel, (L + R) / 2, m.H - 1);
  g.save(); g.translate(12, (T + B) / 2); g.rotate(-Math.PI / 2); g.textBaseline = "middle";
  g.fillText(d.ylabel, 0, 0); g.restore();
  g.save(); g.beginPath(); g.rect(L, T, R - L, B - T); g.clip();
  if (d.rings) {  // the prior's 1, 2, 3 sigma circles
    g.setLineDash([3, 4]); g.strokeStyle = fg; g.globalAlpha = 0.45;
    for (const r of d.rings) {
      g.beginPath(); g.ellipse(m.sx(0), m.sy(0), m.sx(r) - m.sx(0), m.sy(0) - m.sy(r), 0, 0, 7); g.stroke();
    }
    g.setLineDash([]); g.globalAlpha = 1;
  }
  if (d.points) {  // encoder means, coloured by digit
    const { x, y, c } = d.points;
    g.globalAlpha = d.points.alpha || 0.7;
    for (let i = 0; i < x.length; i++) {
      g.fillStyle = d.colors[c[i]]; g.beginPath(); g.arc(m.sx(x[i]), m.sy(y[i]), d.points.size || 2.5, 0, 7); g.fill();
    }
    g.globalAlpha = 1;
  }
  for (const k of d.marks) drawMark(g, m, k, fg);  // marks last: over the points (the ellipse over the dots)
  g.restore();
}

function showCell(m, zx, zy) {  // the atlas cell nearest to z in the side panel; false while the atlas loads
  const a = m.data.atlas;
  if (!a || !m.atlas.complete || !m.atlas.naturalWidth) return false;
  const [ax0, ax1, ay0, ay1] = a.extent, n = a.n;
  const i = Math.min(n - 1, Math.max(0, Math.round((zx - ax0) / (ax1 - ax0) * (n - 1))));
  const j = Math.min(n - 1, Math.max(0, Math.round((ay1 - zy) / (ay1 - ay0) * (n - 1))));
  const c = m.cell.getContext("2d");
  c.imageSmoothingEnabled = true;
  c.drawImage(m.atlas, i * 28, j * 28, 28, 28, 0, 0, m.cell.width, m.cell.height);
  m.root.dataset.hoverCell = i + "," + j;
  return true;
}

// the base layer, then the hover crosshair. The side panel (root's data-cell) shows the cell under the mouse
// ("hover"); with the mouse off the map, the cell at the pinned point, the cross mark ("pinned"), else a hint ("hint")
function render(m) {
  m.frame = 0;
  const g = m.ctx, h = m.hover, d = m.data;
  const xy = (x, y) => `${d.xlabel} = ${x.toFixed(2)}, ${d.ylabel} = ${y.toFixed(2)}`;
  g.clearRect(0, 0, m.W, m.H);
  g.drawImage(m.base, 0, 0, m.W, m.H);
  if (!h) {
    const pin = d.marks.find((k) => k.type === "cross");
    const shown = pin ? showCell(m, pin.x, pin.y) : false;
    m.root.dataset.cell = shown ? "pinned" : "hint";
    m.zText.textContent = shown ? `at the cross: ${xy(pin.x, pin.y)}. ${d.hint}` : d.hint;
    return;
  }
  const fg = css(m.root, "--st-text-color", "#31333F");
  g.save(); g.strokeStyle = fg; g.globalAlpha = 0.5; g.setLineDash([4, 4]); g.beginPath();
  g.moveTo(h.px, PAD.t); g.lineTo(h.px, m.H - PAD.b); g.moveTo(PAD.l, h.py); g.lineTo(m.W - PAD.r, h.py); g.stroke();
  g.restore();
  const zx = m.zx(h.px), zy = m.zy(h.py);
  m.root.dataset.cell = showCell(m, zx, zy) ? "hover" : "hint";
  m.zText.textContent = xy(zx, zy);
  m.root.dataset.hoverFrames = String(+m.root.dataset.hoverFrames + 1);
}

function schedule(m) { if (!m.frame) m.frame = requestAnimationFrame(() => render(m)); }

export default function ({ data, parentElement, setTriggerValue }) {
  let m = parentElement.latentMap;
  if (!m) {
    const root = document.createElement("div");
    root.className = "latentmap";
    root.dataset.hoverFrames = "0";
    root.dataset.clicks = "0";
    root.dataset.cell = "hint";
    root.innerHTML = '<div class="wrap"><canvas class="map" role="img"></canvas></div>' +
      '<div class="side"><div class="ttl"></div><div class="cellbox"><canvas class="cell" width="168" height="168">' +
      '</canvas><div class="cellhint"></div></div><div class="z"></div><div class="legend"></div></div>';
    parentElement.appendChild(root);
    m = parentElement.latentMap = {
      root, wrap: root.querySelector(".wrap"), map: root.querySelector(".map"), base: document.createElement("canvas"),
      cell: root.querySelector(".cell"), zText: root.querySelector(".z"), atlas: new Image(), bg: new Image(),
      hover: null, frame: 0, clicks: 0,
    };
    m.ctx = m.map.getContext("2d");
    const pos = (e) => {
      const b = m.map.getBoundingClientRect();
      return { px: e.clientX - b.left, py: e.clientY - b.top };
    };
    m.map.addEventListener("mousemove", (e) => {
      const p = pos(e);
      m.hover = m.inside(p.px, p.py) ? p : null;
      m.map.style.cursor = m.hover ? "crosshair" : "default";
      schedule(m);
    });
    m.map.addEventListener("mouseleave", () => { m.hover = null; schedule(m); });
    m.map.addEventListener("click", (e) => {
      const p = pos(e);
      if (!m.inside(p.px, p.py) || !m.data.clickable) return;
      m.clicks += 1;
      root.dataset.clicks = String(m.clicks);
      m.send("click", { x: +m.zx(p.px).toFixed(4), y: +m.zy(p.py).toFixed(4), n: m.clicks });
    });
    m.atlas.onload = () => schedule(m);
    m.bg.onload = () => { drawBase(m); schedule(m); };
    m.resize = new ResizeObserver(() => { if (m.data) { layout(m); drawBase(m); schedule(m); } });
    m.resize.observe(m.root);
  }
  m.data = data;
  m.send = setTriggerValue;
  m.root.querySelector(".ttl").textContent = data.side_title;
  m.root.querySelector(".cellhint").textContent = data.cell_hint;
  m.map.setAttribute("aria-label", data.title);
  m.cell.style.width = m.cell.style.height = data.cell_px + "px";
  m.root.querySelector(".side").style.width = data.cell_px + "px";
  m.root.querySelector(".legend").innerHTML = data.points
    ? data.colors.map((c, i) => `<span><i style="background:${c}"></i>${i}</span>`).join("") : "";
  if (data.atlas && m.atlasSrc !== data.atlas.src) { m.atlasSrc = data.atlas.src; m.atlas.src = data.atlas.src; }
  if (data.background && m.bgSrc !== data.background.src) {
    m.bgSrc = data.background.src;
    m.bg.src = data.background.src;
  }
  layout(m);
  drawBase(m);
  schedule(m);
  return () => m.resize.disconnect();
}
