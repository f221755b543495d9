// The lesson's rule in the page: the net's forward pass, and full-batch SGD on the mean BCE with
// the gradients written out by the chain rule (gatelab.core.chain_rule), in float64, as
// `python src/train.py +trainer.precision=64-true` trains (tests/test_explorer.py checks every
// recorded step to 1e-9). Parameters are one flat array in the net's parameters() order: each
// layer's weight [out, in] row-major, then its bias.
"use strict";

const BCE_EPS = Math.fround(1e-12); // ATen's epsilon in BCE's gradient, a float32
const ACTIVATIONS = {
  sigmoid: [(z) => 1 / (1 + Math.exp(-z)), (a) => a * (1 - a)],
  tanh: [Math.tanh, (a) => 1 - a * a],
  relu: [(z) => (z > 0 ? z : 0), (a) => (a > 0 ? 1 : 0)],
};

// Each layer's place in the flat array: {fanIn, fanOut, w (offset), b (offset)}.
function layout(sizes) {
  const layers = [];
  let at = 0;
  for (let k = 0; k + 1 < sizes.length; k++) {
    const fanIn = sizes[k], fanOut = sizes[k + 1];
    layers.push({ fanIn, fanOut, w: at, b: at + fanIn * fanOut });
    at += (fanIn + 1) * fanOut;
  }
  return layers;
}

function parameterCount(sizes) {
  return layout(sizes).reduce((n, l) => n + (l.fanIn + 1) * l.fanOut, 0);
}

// Every layer's outputs on `rows` inputs: acts[0] the inputs, acts[k] layer k's (rows x units, row-major).
function forward(sizes, activation, params, x) {
  const layers = layout(sizes), rows = x.length;
  const acts = [Float64Array.from(x.flat())];
  layers.forEach((l, k) => {
    const f = k < layers.length - 1 ? ACTIVATIONS[activation][0] : ACTIVATIONS.sigmoid[0];
    const below = acts[k], out = new Float64Array(rows * l.fanOut);
    for (let r = 0; r < rows; r++)
      for (let o = 0; o < l.fanOut; o++) {
        let s = 0;
        for (let i = 0; i < l.fanIn; i++) s += params[l.w + o * l.fanIn + i] * below[r * l.fanIn + i];
        out[r * l.fanOut + o] = f(s + params[l.b + o]);
      }
    acts.push(out);
  });
  return acts;
}

// torch's binary_cross_entropy: the mean of -(y log p + (1 - y) log(1 - p)), each log at least -100.
function bceLoss(p, y) {
  let s = 0;
  for (let r = 0; r < y.length; r++) s -= y[r] * Math.max(Math.log(p[r]), -100) + (1 - y[r]) * Math.max(Math.log(1 - p[r]), -100);
  return s / y.length;
}

// One step of full-batch SGD, in place. Returns the loss and whether every row was right, both at
// the weights the step started from (what train.py logs for the step). rule "lab" is the notes' own
// rule instead (model=manual_lab, gatelab.core.chain_rule): d_y = (p - y) / (p (1 - p) + labEpsilon)
// per row, with no 1/N, and each bias gradient the mean over the rows rather than the sum.
function sgdStep(sizes, activation, params, x, y, lr, rule = "exact", labEpsilon = 1e-7) {
  const layers = layout(sizes), rows = x.length;
  const acts = forward(sizes, activation, params, x);
  const p = acts[acts.length - 1];
  const loss = bceLoss(p, y);
  let right = true;
  for (let r = 0; r < rows; r++) if ((p[r] > 0.5) !== (y[r] > 0.5)) right = false;
  // dLoss/dz of the output unit: BCE's gradient (ATen's formula, eps-clamped) times sigmoid's derivative.
  let delta = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const q = p[r];
    const dy = rule === "lab" ? (q - y[r]) / (q * (1 - q) + labEpsilon) : (q - y[r]) / Math.max(q * (1 - q), BCE_EPS) / rows;
    delta[r] = dy * q * (1 - q);
  }
  const gradients = new Float64Array(params.length);
  for (let k = layers.length - 1; k >= 0; k--) {
    const l = layers[k], below = acts[k];
    for (let o = 0; o < l.fanOut; o++) {
      for (let i = 0; i < l.fanIn; i++) {
        let s = 0;
        for (let r = 0; r < rows; r++) s += delta[r * l.fanOut + o] * below[r * l.fanIn + i];
        gradients[l.w + o * l.fanIn + i] = s;
      }
      let s = 0;
      for (let r = 0; r < rows; r++) s += delta[r * l.fanOut + o];
      gradients[l.b + o] = rule === "lab" ? s / rows : s;
    }
    if (k > 0) { // the chain rule one layer down: through this layer's weights, then its activation
      const derivative = ACTIVATIONS[activation][1], next = new Float64Array(rows * l.fanIn);
      for (let r = 0; r < rows; r++)
        for (let i = 0; i < l.fanIn; i++) {
          let s = 0;
          for (let o = 0; o < l.fanOut; o++) s += params[l.w + o * l.fanIn + i] * delta[r * l.fanOut + o];
          next[r * l.fanIn + i] = s * derivative(below[r * l.fanIn + i]);
        }
      delta = next;
    }
  }
  for (let n = 0; n < params.length; n++) params[n] -= lr * gradients[n];
  return { loss, right };
}

if (typeof module !== "undefined") module.exports = { ACTIVATIONS, layout, parameterCount, forward, bceLoss, sgdStep };
