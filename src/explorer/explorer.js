// The explorer's page: replay recorded runs, step runs side by side, browse a study's seeds, train
// live. Reads the data block that src/explore.py wrote; draws with 2-D canvases.
"use strict";

const DATA = JSON.parse(document.getElementById("gatelab-data").textContent);
// Each study's verdicts come as one character per seed, an index (base 36) into its kinds (the page's
// size: gatelab.presentation.explorer.study_entry).
for (const study of DATA.studies) study.verdicts = Array.from(study.verdict_codes, (code) => study.kinds[parseInt(code, 36)]);
const C = DATA.constants;
const UNIT_COLORS = C.unit_colors; // the animations' colours for the first layer's units
const VERDICT_COLORS = { solved: "#1a9850", plateau: "#9e9e9e", other: "#222222" };
const MERGED_COLORS = ["#d95f02", "#7570b3", "#e7298a", "#e6ab02", "#a6761d", "#1f78b4", "#b15928", "#666666"]; // no greens: green is solved
const PANEL = 250; // css pixels per square panel
const GATES = DATA.gates; // every gate's truth table (gatelab.core.gates): what live training can train on

// ------------------------------------------------------------------------------------------------
// Runs: recorded (weights decoded from float32 bytes) and live (trained here)

function decodeWeights(base64, count) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer, 0, count);
}

function recordedRun(entry) {
  const params = parameterCount(entry.sizes);
  const flat = decodeWeights(entry.weights, entry.steps.length * params);
  const records = entry.steps.map((_, i) => Float64Array.from(flat.subarray(i * params, (i + 1) * params)));
  return withCurves({ ...entry, live: false, records });
}

// Loss and accuracy at every record, from the record's weights (the page's own forward pass).
function withCurves(run) {
  run.loss = [];
  run.accuracy = [];
  run.records.forEach((params) => addCurvePoint(run, params));
  return run;
}

function addCurvePoint(run, params) {
  const acts = forward(run.sizes, run.activation, params, run.x);
  const p = acts[acts.length - 1];
  run.loss.push(bceLoss(p, run.y));
  run.accuracy.push(run.y.filter((t, r) => (p[r] > 0.5) === (t > 0.5)).length / run.y.length);
}

// The last record at or before `step` (the run's last after it ended).
function recordAt(run, step) {
  let lo = 0, hi = run.steps.length - 1;
  if (step >= run.steps[hi]) return hi;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (run.steps[mid] <= step) lo = mid; else hi = mid - 1;
  }
  return lo;
}

function solvedAt(run, i) {
  return run.accuracy[i] === 1 && run.loss[i] < C.solved_threshold_4_rows;
}

// What the run is doing at record i: the pipeline's own words for recorded runs (computed by
// gatelab.presentation.animation.phase); for a live run, the same rules' simple cases.
function phaseAt(run, i) {
  if (!run.live) {
    let text = "";
    for (const [from, words] of run.phases) if (from <= i) text = words;
    return text;
  }
  if (solvedAt(run, i)) return "solved";
  if (Math.abs(run.loss[i] - C.ln2) <= C.plateau) return "on the ln 2 plateau: 0.5 everywhere";
  return run.done && i === run.steps.length - 1 ? "not solved" : "";
}

// ------------------------------------------------------------------------------------------------
// Geometry: the output field, its 0.5 contour, the hidden view

function fieldResolution(sizes) {
  return parameterCount(sizes) > 1000 ? 48 : 96;
}

// The output on a res x res grid over [low, high]^2 (row 0 is x2 = high, the top of the picture).
function outputField(run, params, res) {
  const layers = layout(run.sizes), f = ACTIVATIONS[run.activation][0];
  const widest = Math.max(...run.sizes);
  let a = new Float64Array(widest), b = new Float64Array(widest);
  const out = new Float64Array(res * res);
  for (let row = 0; row < res; row++) {
    const x2 = C.high - (row * (C.high - C.low)) / (res - 1);
    for (let col = 0; col < res; col++) {
      a[0] = C.low + (col * (C.high - C.low)) / (res - 1);
      a[1] = x2;
      for (let k = 0; k < layers.length; k++) {
        const l = layers[k], last = k === layers.length - 1;
        for (let o = 0; o < l.fanOut; o++) {
          let s = params[l.b + o];
          for (let i = 0; i < l.fanIn; i++) s += params[l.w + o * l.fanIn + i] * a[i];
          b[o] = last ? 1 / (1 + Math.exp(-s)) : f(s);
        }
        [a, b] = [b, a];
      }
      out[row * res + col] = a[0];
    }
  }
  return out;
}

// The last hidden layer's outputs (the inputs for a net without one) on points [[x1, x2], ...].
function lastHidden(run, params, points) {
  const acts = forward(run.sizes, run.activation, params, points);
  return { h: acts[acts.length - 2], units: run.sizes[run.sizes.length - 2] };
}

// Where the last hidden layer puts points, in two plot coordinates, and the output unit's line
// there as weight . point + bias = 0 (gatelab.core.hidden_space: exact coordinates for <= 2 units,
// else u along the output's weights and v across them, the corners' widest spread).
function hiddenView(run, params) {
  const layers = layout(run.sizes), out = layers[layers.length - 1];
  const w = Array.from(params.subarray(out.w, out.w + out.fanIn)), bias = params[out.b];
  const { h, units } = lastHidden(run, params, run.x);
  const rows = run.x.length;
  if (layers.length === 1 || units === 2) return { project: (v) => [v[0], v[1]], weight: w, bias, axes: layers.length === 1 ? ["x1", "x2"] : ["h1", "h2"] };
  if (units === 1) return { project: (v) => [v[0], 0], weight: [w[0], 0], bias, axes: ["h1", ""] };
  const norm = Math.hypot(...w), along = w.map((v) => (norm > 0 ? v / norm : 0));
  const dot = (p, q) => p.reduce((s, v, i) => s + v * q[i], 0);
  const rest = [];
  for (let r = 0; r < rows; r++) {
    const hr = Array.from(h.subarray(r * units, (r + 1) * units)), u = dot(hr, along);
    rest.push(hr.map((v, i) => v - u * along[i]));
  }
  const mean = rest[0].map((_, i) => rest.reduce((s, p) => s + p[i], 0) / rows);
  const centred = rest.map((p) => p.map((v, i) => v - mean[i]));
  let across = centred.reduce((best, p) => (dot(p, p) > dot(best, best) ? p : best), centred[0]).slice();
  for (let it = 0; it < 60; it++) { // power iteration on the corners' spread: its top direction
    const next = new Array(units).fill(0);
    centred.forEach((p) => { const c = dot(p, across); p.forEach((v, i) => { next[i] += c * v; }); });
    const n = Math.hypot(...next);
    if (!(n > 0)) break;
    across = next.map((v) => v / n);
  }
  const project = (v) => { const u = dot(v, along); return [u, dot(v.map((x, i) => x - u * along[i]), across)]; };
  const first = project(Array.from(h.subarray(0, units))), lastP = project(Array.from(h.subarray((rows - 1) * units, rows * units)));
  const sign = lastP[1] - first[1] < 0 ? -1 : 1; // keep corner 11 above corner 00, as the animations do
  return { project: (v) => { const [u, s] = project(v); return [u, sign * s]; }, weight: [norm, 0], bias, axes: ["along w", "across"] };
}

// Marching squares at 0.5 over the field: segments in field coordinates (col, row).
function contour(field, res, level = 0.5) {
  const segments = [];
  const at = (r, c) => field[r * res + c] - level;
  const cross = (p, q, vp, vq) => { const t = vp / (vp - vq); return [p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])]; };
  for (let r = 0; r + 1 < res; r++)
    for (let c = 0; c + 1 < res; c++) {
      const corners = [[c, r], [c + 1, r], [c + 1, r + 1], [c, r + 1]];
      const values = [at(r, c), at(r, c + 1), at(r + 1, c + 1), at(r + 1, c)];
      const points = [];
      for (let e = 0; e < 4; e++) {
        const v0 = values[e], v1 = values[(e + 1) % 4];
        if ((v0 > 0) !== (v1 > 0)) points.push(cross(corners[e], corners[(e + 1) % 4], v0, v1));
      }
      if (points.length === 2) segments.push(points);
      if (points.length === 4) segments.push([points[0], points[1]], [points[2], points[3]]);
    }
  return segments;
}

// ------------------------------------------------------------------------------------------------
// Drawing

function probabilityColor(p) { // 0: blue, 0.5: white, 1: red (as the pictures' RdBu)
  const blue = [33, 102, 172], red = [178, 24, 43];
  const t = Math.abs(p - 0.5) * 2, end = p < 0.5 ? blue : red;
  return end.map((v) => Math.round(255 + (v - 255) * t));
}

function makeCanvas(width, height) {
  const canvas = document.createElement("canvas");
  const ratio = window.devicePixelRatio || 1;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  canvas.style.width = width + "px";
  canvas.style.height = height + "px";
  canvas.getContext("2d").setTransform(ratio, 0, 0, ratio, 0, 0);
  return canvas;
}

function drawInput(ctx, run, params) {
  const res = fieldResolution(run.sizes), field = outputField(run, params, res);
  const image = new ImageData(res, res);
  for (let n = 0; n < res * res; n++) {
    const [r, g, b] = probabilityColor(field[n]);
    image.data.set([r, g, b, 255], n * 4);
  }
  const off = document.createElement("canvas");
  off.width = off.height = res;
  off.getContext("2d").putImageData(image, 0, 0);
  ctx.clearRect(0, 0, PANEL, PANEL);
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(off, 0, 0, PANEL, PANEL);
  const scale = PANEL / (res - 1), span = C.high - C.low;
  const toPx = (x1, x2) => [((x1 - C.low) / span) * PANEL, ((C.high - x2) / span) * PANEL];
  // the first layer's units: each one's line w . x + b = 0 (the perceptron's is its boundary)
  const first = layout(run.sizes)[0];
  if (run.sizes.length > 2 && first.fanOut <= UNIT_COLORS.length) // (a wide layer's lines would hide the field)
    for (let o = 0; o < first.fanOut; o++) {
      const w1 = params[first.w + o * 2], w2 = params[first.w + o * 2 + 1], b = params[first.b + o];
      strokeLine(ctx, w1, w2, b, toPx, UNIT_COLORS[o % UNIT_COLORS.length], [5, 4]);
    }
  ctx.strokeStyle = "#111";
  ctx.lineWidth = 2;
  ctx.setLineDash([]);
  ctx.beginPath();
  for (const [[c0, r0], [c1, r1]] of contour(field, res)) {
    ctx.moveTo(c0 * scale, r0 * scale);
    ctx.lineTo(c1 * scale, r1 * scale);
  }
  ctx.stroke();
  run.x.forEach((x, r) => corner(ctx, ...toPx(x[0], x[1]), run.y[r], x.join("")));
}

// The line w1 * a + w2 * b + bias = 0 across the panel's box, through toPx.
function strokeLine(ctx, w1, w2, bias, toPx, color, dash, box = [C.low, C.high, C.low, C.high]) {
  const [x0, x1, y0, y1] = box, ends = [];
  if (Math.abs(w2) > 1e-12) for (const a of [x0, x1]) ends.push([a, -(w1 * a + bias) / w2]);
  if (Math.abs(w1) > 1e-12) for (const b of [y0, y1]) ends.push([-(w2 * b + bias) / w1, b]);
  const inside = ends.filter(([a, b]) => a >= x0 - 1e-9 && a <= x1 + 1e-9 && b >= y0 - 1e-9 && b <= y1 + 1e-9);
  if (inside.length < 2) return;
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.5;
  ctx.setLineDash(dash);
  ctx.beginPath();
  ctx.moveTo(...toPx(...inside[0]));
  ctx.lineTo(...toPx(...inside[inside.length - 1]));
  ctx.stroke();
  ctx.restore();
}

function corner(ctx, px, py, target, name) {
  ctx.beginPath();
  ctx.arc(px, py, 7, 0, 2 * Math.PI);
  ctx.fillStyle = target > 0.5 ? "#111" : "#fff";
  ctx.fill();
  ctx.lineWidth = 2;
  ctx.strokeStyle = "#111";
  ctx.setLineDash([]);
  ctx.stroke();
  ctx.fillStyle = "#111";
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillText(name, px + 9, py - 7);
}

// The hidden panel's box: fixed per run (every record's corners), so a replay does not jump.
function hiddenBox(run) {
  if (run.hiddenBox) return run.hiddenBox;
  const hiddenLayers = run.sizes.length - 2;
  if (hiddenLayers === 0) return (run.hiddenBox = [C.low, C.high, C.low, C.high]);
  const exact = run.sizes[run.sizes.length - 2] <= 2 && run.activation === "sigmoid";
  if (exact) return (run.hiddenBox = [-0.1, 1.1, -0.1, 1.1]);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  const stride = Math.max(1, Math.floor(run.records.length / 60));
  for (let i = 0; i < run.records.length; i += stride) {
    const view = hiddenView(run, run.records[i]), { h, units } = lastHidden(run, run.records[i], run.x);
    for (let r = 0; r < run.x.length; r++) {
      const [u, v] = view.project(Array.from(h.subarray(r * units, (r + 1) * units)));
      x0 = Math.min(x0, u); x1 = Math.max(x1, u); y0 = Math.min(y0, v); y1 = Math.max(y1, v);
    }
  }
  const pad = 0.12 * Math.max(x1 - x0, y1 - y0, 0.1);
  return (run.hiddenBox = [x0 - pad, x1 + pad, y0 - pad, y1 + pad]);
}

const GRID_LINES = 9, GRID_POINTS = 33;

function drawHidden(ctx, run, params) {
  const view = hiddenView(run, params), box = hiddenBox(run);
  const [x0, x1, y0, y1] = box;
  const toPx = (u, v) => [((u - x0) / (x1 - x0)) * PANEL, ((y1 - v) / (y1 - y0)) * PANEL];
  ctx.clearRect(0, 0, PANEL, PANEL);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, PANEL, PANEL);
  // the input square's grid, bent by the hidden layers (colah: "Neural Networks, Manifolds, and Topology")
  const points = [];
  for (let g = 0; g < GRID_LINES; g++)
    for (let s = 0; s < GRID_POINTS; s++) {
      const a = C.low + (g * (C.high - C.low)) / (GRID_LINES - 1), b = C.low + (s * (C.high - C.low)) / (GRID_POINTS - 1);
      points.push([a, b], [b, a]);
    }
  const { h, units } = lastHidden(run, params, points);
  const mapped = points.map((_, n) => view.project(Array.from(h.subarray(n * units, (n + 1) * units))));
  ctx.strokeStyle = "#c8c8c8";
  ctx.lineWidth = 1;
  ctx.setLineDash([]);
  for (let g = 0; g < GRID_LINES; g++)
    for (const offset of [0, 1]) {
      ctx.beginPath();
      for (let s = 0; s < GRID_POINTS; s++) {
        const [px, py] = toPx(...mapped[(g * GRID_POINTS + s) * 2 + offset]);
        if (s === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
      }
      ctx.stroke();
    }
  strokeLine(ctx, view.weight[0], view.weight[1], view.bias, toPx, "#111", [], box);
  const corners = lastHidden(run, params, run.x);
  run.x.forEach((x, r) => {
    const [u, v] = view.project(Array.from(corners.h.subarray(r * corners.units, (r + 1) * corners.units)));
    corner(ctx, ...toPx(u, v), run.y[r], x.join(""));
  });
  ctx.fillStyle = "#666";
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillText(view.axes.filter(Boolean).join(" / "), 4, PANEL - 5);
}

function drawCurves(ctx, run, i, lastStep, width) {
  const height = PANEL, left = 34, bottom = 18, top = 8;
  const plotW = width - left - 8, plotH = height - top - bottom;
  const maxLoss = Math.max(C.ln2 * 1.15, ...run.loss.filter(Number.isFinite).map((v) => Math.min(v, 3)));
  const sx = (step) => left + (step / Math.max(lastStep, 1)) * plotW;
  const sy = (v) => top + (1 - v / maxLoss) * plotH;
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.strokeStyle = "#999";
  ctx.lineWidth = 1;
  ctx.strokeRect(left, top, plotW, plotH);
  ctx.setLineDash([4, 4]);
  ctx.beginPath();
  ctx.moveTo(left, sy(C.ln2));
  ctx.lineTo(left + plotW, sy(C.ln2));
  ctx.stroke();
  ctx.setLineDash([]);
  ctx.fillStyle = "#666";
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillText("ln 2", 4, sy(C.ln2) + 4);
  ctx.fillText("0", left - 10, top + plotH + 4);
  ctx.fillText(String(lastStep), left + plotW - 30, height - 4);
  const path = (values, scale, color, dash) => {
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.6;
    ctx.setLineDash(dash);
    ctx.beginPath();
    values.forEach((v, k) => { const px = sx(run.steps[k]), py = scale(v); if (k === 0) ctx.moveTo(px, py); else ctx.lineTo(px, py); });
    ctx.stroke();
    ctx.setLineDash([]);
  };
  path(run.accuracy, (a) => top + (1 - a) * plotH, "#9ecae1", [3, 3]);
  path(run.loss.map((v) => Math.min(v, maxLoss)), sy, "#d62728", []);
  Object.entries(run.keys || {}).forEach(([name, k], n) => { // the strip's key frames, names staggered
    if (k == null || k >= run.steps.length) return;
    ctx.fillStyle = "#555";
    ctx.fillText(name, Math.min(sx(run.steps[k]) + 2, left + plotW - 40), top + 11 + 12 * (n % 4));
    ctx.fillRect(sx(run.steps[k]), top, 1, 5);
  });
  ctx.strokeStyle = "#111";
  ctx.beginPath();
  ctx.moveTo(sx(run.steps[i]), top);
  ctx.lineTo(sx(run.steps[i]), top + plotH);
  ctx.stroke();
  ctx.fillStyle = "#d62728";
  ctx.fillText("loss", left + 4, top + plotH - 18);
  ctx.fillStyle = "#6baed6";
  ctx.fillText("accuracy", left + 4, top + plotH - 5);
}

// ------------------------------------------------------------------------------------------------
// The view: rows of runs on one step slider

const state = { rows: [], step: 0, playing: false, runs: new Map(), liveCount: 0 };
const CURVE_W = 360;

function addRow(run, replace) {
  if (replace) state.rows.forEach((row) => row.element.remove()), (state.rows = []);
  const element = document.createElement("div");
  element.className = "run-row";
  element.dataset.run = run.id;
  element.innerHTML = `<div class="run-head"><h3></h3><span class="facts"></span><span class="phase"></span>
    <button type="button" class="remove" title="remove this run from the view">remove</button></div><div class="panels"></div>`;
  element.querySelector("h3").textContent = run.title;
  const panels = element.querySelector(".panels");
  const canvases = {};
  for (const [key, label, width] of [["input", "input space: output, boundary (black), first-layer units", PANEL],
    ["hidden", "hidden space: corners, the output unit's line, the square's grid", PANEL], ["curves", "loss and accuracy", CURVE_W]]) {
    const panel = document.createElement("div");
    panel.className = "panel";
    panel.innerHTML = `<span class="label">${label}</span>`;
    panel.style.width = width + "px";
    canvases[key] = makeCanvas(width, PANEL);
    canvases[key].dataset.panel = key;
    panel.appendChild(canvases[key]);
    panels.appendChild(panel);
  }
  const row = { run, element, canvases, drawn: -1 };
  element.querySelector(".remove").addEventListener("click", () => {
    element.remove();
    state.rows = state.rows.filter((r) => r !== row);
    updateSlider();
  });
  document.getElementById("rows").appendChild(element);
  element.scrollIntoView({ block: "nearest" }); // a run added from the side panel's foot is seen
  state.rows.push(row);
  updateSlider();
  drawAll(true);
  return row;
}

function lastStepOf(rows) {
  return Math.max(0, ...rows.map((row) => row.run.steps[row.run.steps.length - 1]));
}

function updateSlider() {
  const slider = document.getElementById("step-slider");
  slider.max = String(lastStepOf(state.rows));
  if (state.step > +slider.max) setStep(+slider.max);
}

function setStep(step) {
  state.step = Math.round(step);
  document.getElementById("step-slider").value = String(state.step);
  document.getElementById("step-label").textContent = `step ${state.step}`;
  drawAll(false);
}

function drawAll(force) {
  const lastStep = lastStepOf(state.rows);
  for (const row of state.rows) {
    const run = row.run, i = recordAt(run, state.step);
    if (!force && i === row.drawn && !run.training) continue;
    const params = run.records[i];
    drawInput(row.canvases.input.getContext("2d"), run, params);
    drawHidden(row.canvases.hidden.getContext("2d"), run, params);
    drawCurves(row.canvases.curves.getContext("2d"), run, i, lastStep, CURVE_W);
    const phase = phaseAt(run, i);
    row.element.querySelector(".facts").textContent =
      `${run.architecture} ${run.activation}, lr ${run.lr}, seed ${run.seed} · step ${run.steps[i]} · loss ${run.loss[i].toFixed(4)} · accuracy ${run.accuracy[i].toFixed(2)}`;
    row.element.querySelector(".phase").textContent = phase;
    Object.assign(row.element.dataset, { step: run.steps[i], record: i, loss: run.loss[i], phase });
    row.drawn = i;
  }
}

function togglePlay() {
  state.playing = !state.playing;
  document.getElementById("play").textContent = state.playing ? "Pause" : "Play";
  if (!state.playing) return;
  if (state.step >= lastStepOf(state.rows)) setStep(0);
  let before = performance.now();
  const tick = (now) => {
    if (!state.playing) return;
    const speed = +document.getElementById("speed").value, end = lastStepOf(state.rows);
    const next = Math.min(end, state.step + (speed * (now - before)) / 1000);
    before = now;
    state.step = next;
    document.getElementById("step-slider").value = String(Math.round(next));
    document.getElementById("step-label").textContent = `step ${Math.round(next)}`;
    drawAll(false);
    if (next >= end) togglePlay(); else requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

// ------------------------------------------------------------------------------------------------
// Training live: the chain rule in float64 from the weights torch draws for the seed, stopping
// where train.py's early stopping would (gatelab.callbacks.SolvedOrStuck, checked every epoch).

function parseHidden(text) {
  const parts = text.split(/[\s,]+/).filter(Boolean).map(Number);
  if (!parts.every((h) => Number.isInteger(h) && h >= 1 && h <= 64)) throw new Error("hidden: whole widths from 1 to 64, like 2 or 10,10,10");
  return parts;
}

function liveSettings(form) {
  const gate = form.gate, lr = Number(form.lr), maxSteps = Number(form.max_steps || C.max_steps);
  if (!/^\d+$/.test(String(form.seed).trim())) throw new Error("seed: a whole number from 0");
  if (!(lr > 0 && Number.isFinite(lr))) throw new Error("learning rate: a positive number");
  if (!(Number.isInteger(maxSteps) && maxSteps >= 1 && maxSteps <= 100000)) throw new Error("max steps: a whole number from 1 to 100000");
  if (!(form.activation in ACTIVATIONS)) throw new Error("activation: sigmoid, tanh or relu");
  if (!(gate in GATES)) throw new Error(`gate: one of ${Object.keys(GATES).join(", ")}`);
  const rule = form.rule || "exact";
  if (rule !== "exact" && rule !== "lab") throw new Error("backprop: the chain rule (exact) or the notes' rule (lab)");
  return { gate, hidden: parseHidden(form.hidden), activation: form.activation, lr, seed: String(form.seed).trim(), maxSteps, rule };
}

// A run trained here: `advance(ms)` trains for about that long (Infinity: to the end) and says why
// it stopped ("solved", "stuck", "budget"), or "" while it goes on. With `record`, the run keeps its
// weights every C.every steps and at the end, as the snapshots callback does. A single run stops
// when solved or stuck (train.py's early stopping); a study's copy (`study: true`) only when solved
// or out of steps, as gatelab.recipes.batched trains its copies.
function liveTrainer(settings, record = true) {
  const { gate, hidden, activation, lr, seed, maxSteps, rule = "exact", study = false } = settings;
  const sizes = [2, ...hidden, 1], table = GATES[gate], params = initialWeights(seed, sizes);
  const run = {
    gate, sizes, activation, lr, seed, architecture: sizes.join("-"), x: table.x, y: table.y, live: true, training: true, done: false,
    steps: [0], records: [Float64Array.from(params)], loss: [], accuracy: [], keys: {},
  };
  addCurvePoint(run, run.records[0]);
  let step = 0, best = Infinity, wait = 0, stopped = "";
  const advance = (ms) => {
    const until = performance.now() + ms;
    while (!stopped && performance.now() < until) {
      for (let n = 0; n < 50 && !stopped; n++) {
        const { loss } = sgdStep(sizes, activation, params, table.x, table.y, lr, rule, C.lab_epsilon);
        step += 1;
        if (step % C.steps_per_epoch === 0) { // the epoch's end: Lightning's EarlyStopping on this step's loss
          if (loss < C.solved_threshold_4_rows) stopped = "solved";
          else if (loss + C.min_delta < best) { best = loss; wait = 0; }
          else if (++wait >= C.patience && !study) stopped = "stuck";
        }
        if (step >= maxSteps && !stopped) stopped = "budget";
        if ((record && step % C.every === 0) || stopped) {
          run.steps.push(step);
          run.records.push(Float64Array.from(params));
          addCurvePoint(run, run.records[run.records.length - 1]);
        }
      }
    }
    run.done = Boolean(stopped);
    run.training = !run.done;
    run.stopped = stopped;
    return stopped;
  };
  return { run, advance };
}

const STOPS = { solved: "solved", stuck: () => `stopped: no progress for ${C.patience} epochs`, budget: "the budget ran out" };

function trainLive(settings, beside, note = "") {
  const { run, advance } = liveTrainer(settings);
  state.liveCount += 1;
  run.id = `live-${state.liveCount}`;
  const rule = settings.rule === "lab" ? " (the notes' rule)" : "";
  run.title = `live ${state.liveCount}: ${run.architecture} ${run.activation}${rule} on ${run.gate.toUpperCase()}, lr ${run.lr}, seed ${run.seed}${note}`;
  const status = document.getElementById("train-status");
  const chunk = () => {
    const stopped = advance(12); // about one frame's time, then draw
    const words = typeof STOPS[stopped] === "function" ? STOPS[stopped]() : STOPS[stopped];
    const last = run.steps[run.steps.length - 1];
    status.textContent = run.done ? `${run.id}: ${last} steps, ${words}` : `${run.id}: step ${last}...`;
    status.dataset.state = run.done ? "done" : "training";
    updateSlider();
    setStep(lastStepOf(state.rows) === last ? last : state.step);
    if (!run.done) setTimeout(chunk, 0);
  };
  state.runs.set(run.id, run);
  addRow(run, !beside);
  setTimeout(chunk, 0);
  return run;
}

// The study's settings for one of its seeds, as the live trainer takes them.
function seedSettings(study, seed) {
  const hidden = study.architecture.split("-").slice(1, -1).join(",");
  return { gate: study.gate, hidden: hidden ? parseHidden(hidden) : [], activation: study.activation, lr: study.lr, seed: String(seed),
    maxSteps: study.max_steps, rule: study.rule, study: true };
}

// The first `count` seeds of a study (all by default) trained here, to the end: whether each is
// solved (bench/explorer.py and tests/test_explorer.py compare them with the study's own verdicts).
function solvedHere(id, count = Infinity) {
  const study = DATA.studies.find((s) => s.id === id);
  return study.verdicts.slice(0, count).map((_, k) => liveTrainer(seedSettings(study, study.first_seed + k), false).advance(Infinity) === "solved");
}

// ------------------------------------------------------------------------------------------------
// The side panel: runs, presets, the study grid, the landscape

function buildRunList() {
  const list = document.getElementById("run-list");
  for (const run of state.runs.values()) {
    const item = document.createElement("div");
    item.className = "run-item";
    item.innerHTML = `<span></span><button type="button" class="show">show</button><button type="button" class="beside" title="add beside the runs shown">+</button>`;
    item.querySelector("span").textContent = run.id;
    item.dataset.run = run.id;
    item.querySelector(".show").addEventListener("click", () => addRow(run, true));
    item.querySelector(".beside").addEventListener("click", () => addRow(run, false));
    list.appendChild(item);
  }
  const presets = [
    ["seed 777 vs seed 5", ["mlp2/xor", "mlp2-failing/xor"]],
    ["perceptron vs mlp2 on XOR", ["perceptron/xor", "mlp2/xor"]],
    ["sigmoid vs tanh vs relu (deep)", ["deep-sigmoid/xor", "deep-tanh/xor", "deep-relu/xor"]],
    ["autograd vs hand-written backprop", ["mlp2/xor", "manual/xor"]],
  ];
  for (const [name, ids] of presets) {
    if (!ids.every((id) => state.runs.has(id))) continue;
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = name;
    button.addEventListener("click", () => ids.forEach((id, k) => addRow(state.runs.get(id), k === 0)));
    document.getElementById("presets").appendChild(button);
  }
}

function verdictColor(verdict, kinds) {
  if (verdict in VERDICT_COLORS) return VERDICT_COLORS[verdict];
  return MERGED_COLORS[kinds.indexOf(verdict) % MERGED_COLORS.length];
}

function showStudy(id) {
  const study = DATA.studies.find((s) => s.id === id);
  document.getElementById("study-select").value = id;
  const grid = document.getElementById("seed-grid");
  grid.innerHTML = "";
  grid.style.gridTemplateColumns = `repeat(${study.seeds > 200 ? 40 : 20}, 1fr)`;
  const kinds = [...new Set(study.verdicts.filter((v) => !(v in VERDICT_COLORS)))].sort();
  study.verdicts.forEach((verdict, k) => {
    const seed = study.first_seed + k, button = document.createElement("button");
    button.className = "seed";
    button.type = "button";
    button.style.background = verdictColor(verdict, kinds);
    const words = verdict === "solved" ? `solved, every row right at step ${study.first_correct[k]}` : verdict === "plateau" ? "on the ln 2 plateau" : verdict === "other" ? "not solved" : `${verdict} merged`;
    button.title = `seed ${seed}: ${words}`;
    Object.assign(button.dataset, { seed, verdict });
    if (study.rule) button.addEventListener("click", () => trainLive(seedSettings(study, seed), false, ` (the study, in float32: ${words})`));
    else button.disabled = true; // trained by an optimizer the page does not have: its verdict only
    grid.appendChild(button);
  });
  const counts = {};
  study.verdicts.forEach((v) => { counts[v] = (counts[v] || 0) + 1; });
  document.getElementById("seed-legend").innerHTML = Object.entries(counts).sort((a, b) => b[1] - a[1])
    .map(([v, n]) => `<span class="swatch" style="background:${verdictColor(v, kinds)}"></span>${v === "solved" || v === "plateau" || v === "other" ? v : v + " merged"} ${n}`).join(" ");
}

function buildStudies() {
  const select = document.getElementById("study-select");
  for (const study of DATA.studies) {
    const option = document.createElement("option");
    option.value = study.id;
    option.textContent = `${study.id}: ${study.solved}/${study.seeds} solved (${study.architecture}, lr ${study.lr})`;
    select.appendChild(option);
  }
  select.addEventListener("change", () => showStudy(select.value));
  const lesson = DATA.studies.find((s) => s.id === "mlp2/xor") || DATA.studies[0];
  if (lesson) showStudy(lesson.id);
}

function buildLandscape() {
  const landscape = DATA.landscape, box = document.getElementById("landscape");
  if (!landscape) return;
  const lrs = [...new Set(landscape.cells.map((c) => c.lr))].sort((a, b) => a - b);
  const nets = [...new Set(landscape.cells.map((c) => c.architecture))];
  const table = document.createElement("table");
  table.innerHTML = `<tr><th>net \\ lr</th>${lrs.map((lr) => `<th>${lr}</th>`).join("")}</tr>`;
  for (const net of nets) {
    const tr = document.createElement("tr");
    tr.innerHTML = `<th>${net}</th>`;
    for (const lr of lrs) {
      const cell = landscape.cells.find((c) => c.architecture === net && c.lr === lr), td = document.createElement("td");
      if (cell) {
        const study = DATA.studies.find((s) => s.architecture === net && s.lr === lr && s.id.startsWith(`${net}-lr`));
        td.textContent = `${cell.solved}`;
        td.title = `${net} at lr ${lr}: ${cell.solved} seeds solve XOR`;
        td.style.background = `rgba(26, 152, 80, ${0.1 + 0.8 * cell.solve_rate})`;
        if (study) { td.dataset.study = study.id; td.addEventListener("click", () => showStudy(study.id)); }
      }
      tr.appendChild(td);
    }
    table.appendChild(tr);
  }
  box.appendChild(table);
}

function buildTrainForm() {
  const gates = document.getElementById("train-gate");
  for (const gate of Object.keys(GATES)) gates.add(new Option(gate, gate, gate === "xor", gate === "xor"));
  document.getElementById("train-max-steps").value = C.max_steps;
  document.getElementById("train-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const status = document.getElementById("train-status");
    try {
      trainLive(liveSettings(Object.fromEntries(new FormData(event.target))), false);
    } catch (err) {
      status.textContent = err.message;
      status.dataset.state = "error";
    }
  });
}

// ------------------------------------------------------------------------------------------------

function start() {
  for (const entry of DATA.runs) state.runs.set(entry.id, recordedRun(entry));
  buildRunList();
  buildTrainForm();
  buildStudies();
  buildLandscape();
  document.getElementById("step-slider").addEventListener("input", (e) => setStep(+e.target.value));
  document.getElementById("play").addEventListener("click", togglePlay);
  const first = state.runs.get("mlp2/xor") || state.runs.values().next().value;
  if (first) addRow(first, true);
  document.body.dataset.ready = "true";
}

// For tests and the curious (the browser console): the page's own numbers.
window.gatelab = {
  data: DATA, state, runs: state.runs, recordAt, phaseAt, setStep, trainLive, solvedHere, liveTrainer, seedSettings, initialWeights, forward, outputField, fieldResolution,
  // The net's output at the run's record i on points [[x1, x2], ...], by the forward pass the panels draw.
  outputs: (id, i, points) => Array.from(forward(state.runs.get(id).sizes, state.runs.get(id).activation, state.runs.get(id).records[i], points).at(-1)),
};
start();
