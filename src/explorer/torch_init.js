// torch's CPU generator and nn.Linear's initialisation, bit for bit: the weights that
// `torch.manual_seed(seed); build_mlp(hidden)` draws, for any seed (tests/test_explorer.py checks).
"use strict";

// mt19937 as torch's CPU generator runs it, seeded with the seed's low 32 bits.
function mt19937(seed) {
  const mt = new Uint32Array(624);
  mt[0] = seed >>> 0;
  for (let i = 1; i < 624; i++) {
    const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
    mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
  }
  let index = 624;
  return function next() {
    if (index >= 624) {
      for (let i = 0; i < 624; i++) {
        const y = (mt[i] & 0x80000000) | (mt[(i + 1) % 624] & 0x7fffffff);
        let v = mt[(i + 397) % 624] ^ (y >>> 1);
        if (y & 1) v ^= 0x9908b0df;
        mt[i] = v >>> 0;
      }
      index = 0;
    }
    let y = mt[index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  };
}

// tensor.uniform_(lo, hi) for one float32 element: one 32-bit draw, 24 bits of it, float32 arithmetic.
function uniform32(next, lo, hi) {
  const x = (next() & 0xffffff) * 2 ** -24;
  const from = Math.fround(lo), to = Math.fround(hi);
  return Math.fround(x * Math.fround(to - from) + from);
}

// Each nn.Linear draws its weight (row-major, kaiming_uniform_ with a = sqrt(5)) then its bias
// (uniform in +-1/sqrt(fan_in)), layer by layer: the net's parameters() in order, as one array.
function initialWeights(seed, sizes) {
  const next = mt19937(Number(BigInt(seed) & 0xffffffffn));
  const flat = [];
  for (let k = 0; k + 1 < sizes.length; k++) {
    const fanIn = sizes[k], fanOut = sizes[k + 1];
    const a = Math.sqrt(5);
    const bound = Math.sqrt(3) * (Math.sqrt(2 / (1 + a * a)) / Math.sqrt(fanIn));
    for (let n = 0; n < fanIn * fanOut; n++) flat.push(uniform32(next, -bound, bound));
    const biasBound = 1 / Math.sqrt(fanIn);
    for (let o = 0; o < fanOut; o++) flat.push(uniform32(next, -biasBound, biasBound));
  }
  return Float64Array.from(flat);
}

if (typeof module !== "undefined") module.exports = { mt19937, uniform32, initialWeights };
