// A character-level LSTM trained in plain JavaScript, as a page could train it without a server.
//
// The reference for `vs_browser_js`: the same model as the playground's (one-hot input, one
// LSTM layer with gates [i, f, g, o], a linear head, softmax cross-entropy over every position),
// trained the same way (random windows, backpropagation through time from the zero state,
// global gradient-norm clipping at 1.0, Adam at lr 3e-3 with PyTorch's defaults), on
// Float32Array buffers with loops laid out so the innermost one runs over contiguous memory.
// No WebGL, WebGPU or WebAssembly: what a hand-written in-browser trainer does on one thread.
//
//   node benchmarks/js_lstm.mjs --text backend/corpora/english.txt --hidden 256 --batch 16 \
//        --seq 100 --seconds 8      prints {"chars_per_s": ..., ...} as one JSON line
//   node benchmarks/js_lstm.mjs --check
//        compares every gradient with central finite differences on a tiny model (Float64)

import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import process from "node:process";
import { parseArgs } from "node:util";

/** A seeded uniform [0, 1) generator (mulberry32), so runs are repeatable. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sigmoid = (x) => 1 / (1 + Math.exp(-x));

/** sum_i a[ai + i] * b[bi + i] for i < n, with four accumulators (n need not divide by 4). */
function dot(a, ai, b, bi, n) {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let i = 0;
  for (; i + 3 < n; i += 4) {
    s0 += a[ai + i] * b[bi + i];
    s1 += a[ai + i + 1] * b[bi + i + 1];
    s2 += a[ai + i + 2] * b[bi + i + 2];
    s3 += a[ai + i + 3] * b[bi + i + 3];
  }
  for (; i < n; i++) s0 += a[ai + i] * b[bi + i];
  return s0 + s1 + s2 + s3;
}

/** dst (cols, rows) = src (rows, cols) transposed. */
function transpose(src, dst, rows, cols) {
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) dst[c * rows + r] = src[r * cols + c];
}

/** One-layer character LSTM: parameters, gradients, Adam moments and BPTT buffers. */
class CharLSTM {
  constructor(vocab, hidden, Arr = Float32Array, seed = 0) {
    const V = vocab;
    const H = hidden;
    const G = 4 * H;
    Object.assign(this, { V, H, G, Arr });
    // PyTorch's layouts: Wx (V, 4H) holds the columns of weight_ih (one-hot input picks a row),
    // Wh (4H, H) = weight_hh, Wy (V, H) = head.weight. Rows are contiguous, so the forward
    // products are dot products over contiguous memory.
    const shapes = { Wx: V * G, Wh: G * H, b: G, Wy: V * H, by: V };
    const rand = random(seed);
    const bound = 1 / Math.sqrt(H); // PyTorch's default init for LSTM and Linear(H, V)
    this.p = {};
    this.g = {};
    this.m = {};
    this.v = {};
    for (const [name, size] of Object.entries(shapes)) {
      this.p[name] = new Arr(size).map(() => (2 * rand() - 1) * bound);
      this.g[name] = new Arr(size);
      this.m[name] = new Arr(size);
      this.v[name] = new Arr(size);
    }
    this.adamStep = 0;
    this.B = 0;
    this.T = 0;
  }

  /** Buffers for a batch shape; kept between steps. */
  allocate(B, T) {
    if (this.B === B && this.T === T) return;
    const { H, G, V, Arr } = this;
    const N = T * B;
    Object.assign(this, { B, T });
    this.hs = new Arr((T + 1) * B * H); // rows (t, b): h_0 = 0, then h_1..h_T
    this.cs = new Arr((T + 1) * B * H); // c_0 = 0, then c_1..c_T
    this.acts = new Arr(N * G); // i, f, g, o after their nonlinearities
    this.tanhc = new Arr(N * H);
    this.probs = new Arr(N * V); // softmax, then dL/dlogits
    this.dlogitsT = new Arr(V * N); // dL/dlogits transposed, for dWy as dot products
    this.hsT = new Arr(H * (N + B)); // hs transposed, for dWh and dWy as dot products
    this.dzT = new Arr(G * N); // dL/d(pre-activations) transposed, for dWh
    this.dhTop = new Arr(N * H); // dL/dh_t from the head
    this.dhNext = new Arr(B * H);
    this.dcNext = new Arr(B * H);
    this.dz = new Arr(G);
    this.WhT = new Arr(H * G); // transposed copies, so backward's products are dots too
    this.WyT = new Arr(H * V);
  }

  /** Mean cross-entropy (nats/char) of targets y given inputs x, both Int32Array (T, B). */
  forward(x, y, B, T) {
    this.allocate(B, T);
    const { H, G, V, hs, cs, acts, tanhc, probs } = this;
    const { Wx, Wh, b: bias, Wy, by } = this.p;
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) {
        const n = t * B + b;
        const z = n * G; // this row of acts, pre-activations first
        const hp = n * H; // h_{t-1}, c_{t-1}
        const hn = hp + B * H; // h_t, c_t
        const xo = x[n] * G;
        for (let j = 0; j < G; j++) acts[z + j] = bias[j] + Wx[xo + j] + dot(Wh, j * H, hs, hp, H);
        for (let j = 0; j < H; j++) {
          const i = sigmoid(acts[z + j]);
          const f = sigmoid(acts[z + H + j]);
          const g = Math.tanh(acts[z + 2 * H + j]);
          const o = sigmoid(acts[z + 3 * H + j]);
          acts[z + j] = i;
          acts[z + H + j] = f;
          acts[z + 2 * H + j] = g;
          acts[z + 3 * H + j] = o;
          const c = f * cs[hp + j] + i * g;
          const tc = Math.tanh(c);
          cs[hn + j] = c;
          tanhc[hp + j] = tc;
          hs[hn + j] = o * tc;
        }
      }
    }
    let loss = 0;
    for (let n = 0; n < T * B; n++) {
      const h = (n + B) * H; // row n = (t, b) reads h_t, stored at hs row n + B
      const row = n * V;
      let max = -Infinity;
      for (let v = 0; v < V; v++) {
        probs[row + v] = by[v] + dot(Wy, v * H, hs, h, H);
        max = Math.max(max, probs[row + v]);
      }
      let sum = 0;
      for (let v = 0; v < V; v++) sum += probs[row + v] = Math.exp(probs[row + v] - max);
      for (let v = 0; v < V; v++) probs[row + v] /= sum;
      loss -= Math.log(probs[row + y[n]]);
    }
    return loss / (T * B);
  }

  /** Gradients of the last forward's loss into this.g (backpropagation through time). */
  backward(x, y) {
    const { B, T, H, G, V, hs, cs, acts, tanhc, probs, dlogitsT, hsT, dzT } = this;
    const { dhTop, dhNext, dcNext, dz } = this;
    const { WhT, WyT } = this;
    const { Wx: dWx, Wh: dWh, b: db, Wy: dWy, by: dby } = this.g;
    const N = T * B;
    const M = N + B; // rows of hs
    for (const grad of Object.values(this.g)) grad.fill(0);
    transpose(this.p.Wh, WhT, G, H);
    transpose(this.p.Wy, WyT, V, H);
    transpose(hs, hsT, M, H);
    // The head: dL/dlogits = (softmax - onehot) / N, then dby, dWy and dL/dh_t.
    for (let n = 0; n < N; n++) {
      const row = n * V;
      probs[row + y[n]] -= 1;
      for (let v = 0; v < V; v++) {
        const d = (probs[row + v] /= N);
        dlogitsT[v * N + n] = d;
        dby[v] += d;
      }
      for (let k = 0; k < H; k++) dhTop[n * H + k] = dot(probs, row, WyT, k * V, V);
    }
    for (let v = 0; v < V; v++) {
      for (let k = 0; k < H; k++) dWy[v * H + k] = dot(dlogitsT, v * N, hsT, k * M + B, N);
    }
    // Back through time: dL/d(pre-activations) of every step, and dL/dh_{t-1}, dL/dc_{t-1}.
    dhNext.fill(0);
    dcNext.fill(0);
    for (let t = T - 1; t >= 0; t--) {
      for (let b = 0; b < B; b++) {
        const n = t * B + b;
        const a = n * G;
        const s = n * H; // c_{t-1}, tanh(c_t) and dhTop of this step
        const r = b * H;
        for (let j = 0; j < H; j++) {
          const i = acts[a + j];
          const f = acts[a + H + j];
          const g = acts[a + 2 * H + j];
          const o = acts[a + 3 * H + j];
          const tc = tanhc[s + j];
          const dh = dhTop[s + j] + dhNext[r + j];
          const dc = dcNext[r + j] + dh * o * (1 - tc * tc);
          dz[j] = dc * g * i * (1 - i);
          dz[H + j] = dc * cs[s + j] * f * (1 - f);
          dz[2 * H + j] = dc * i * (1 - g * g);
          dz[3 * H + j] = dh * tc * o * (1 - o);
          dcNext[r + j] = dc * f;
        }
        const xo = x[n] * G;
        for (let j = 0; j < G; j++) {
          const d = dz[j];
          db[j] += d;
          dWx[xo + j] += d;
          dzT[j * N + n] = d;
        }
        for (let k = 0; k < H; k++) dhNext[r + k] = dot(dz, 0, WhT, k * G, G);
      }
    }
    // dWh = sum over every step and window of dz^T h_{t-1}: one dot product per weight.
    for (let j = 0; j < G; j++) {
      for (let k = 0; k < H; k++) dWh[j * H + k] = dot(dzT, j * N, hsT, k * M, N);
    }
  }

  /** Rescale the gradient to norm `tau` if it is longer (torch.nn.utils.clip_grad_norm_). */
  clip(tau) {
    let sq = 0;
    for (const grad of Object.values(this.g)) for (const q of grad) sq += q * q;
    const norm = Math.sqrt(sq);
    const scale = tau / (norm + 1e-6);
    if (scale < 1)
      for (const grad of Object.values(this.g))
        for (let i = 0; i < grad.length; i++) grad[i] *= scale;
    return norm;
  }

  /** One Adam update with PyTorch's defaults (betas 0.9, 0.999, eps 1e-8, no weight decay). */
  adam(lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8) {
    this.adamStep += 1;
    const c1 = 1 - beta1 ** this.adamStep;
    const c2 = Math.sqrt(1 - beta2 ** this.adamStep);
    for (const name of Object.keys(this.p)) {
      const [p, g, m, v] = [this.p[name], this.g[name], this.m[name], this.v[name]];
      for (let i = 0; i < p.length; i++) {
        m[i] = beta1 * m[i] + (1 - beta1) * g[i];
        v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
        p[i] -= (lr / c1) * (m[i] / (Math.sqrt(v[i]) / c2 + eps));
      }
    }
  }
}

/** B random windows of T + 1 ids from `ids`, as inputs x and targets y in (T, B) layout. */
function batch(ids, B, T, rand) {
  const x = new Int32Array(T * B);
  const y = new Int32Array(T * B);
  for (let b = 0; b < B; b++) {
    const start = Math.floor(rand() * (ids.length - T));
    for (let t = 0; t < T; t++) {
      x[t * B + b] = ids[start + t];
      y[t * B + b] = ids[start + t + 1];
    }
  }
  return { x, y };
}

/** Train for about `seconds` after one warm-up step; characters/s over the timed steps. */
function bench({ text, hidden, batch: B, seq: T, seconds, lr, clip }) {
  const chars = [...new Set(text)].sort();
  const index = new Map(chars.map((ch, i) => [ch, i]));
  const all = Int32Array.from([...text], (ch) => index.get(ch));
  const ids = all.subarray(0, all.length - Math.floor(all.length / 10)); // the training part
  const model = new CharLSTM(chars.length, hidden);
  const rand = random(1);
  const step = () => {
    const { x, y } = batch(ids, B, T, rand);
    const loss = model.forward(x, y, B, T);
    model.backward(x, y);
    model.clip(clip);
    model.adam(lr);
    return loss;
  };
  const lossFirst = step(); // warm-up: lets the JIT compile the loops
  let steps = 0;
  let lossLast = lossFirst;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  let elapsed = 0;
  while (steps < 1 || elapsed < seconds) {
    lossLast = step();
    steps += 1;
    elapsed = (performance.now() - start) / 1000;
  }
  const cpu = process.cpuUsage(cpuStart);
  return {
    chars_per_s: (steps * B * T) / elapsed,
    steps,
    seconds: elapsed,
    cpu_share: (cpu.user + cpu.system) / 1e6 / elapsed, // below 1: other processes took the core
    batch: B,
    seq_len: T,
    hidden,
    vocab: chars.length,
    loss_first_bits: lossFirst / Math.LN2,
    loss_last_bits: lossLast / Math.LN2,
    node: process.version,
  };
}

/** Largest relative difference between backward's gradients and central differences. */
function gradientCheck() {
  const [V, H, B, T, eps] = [5, 3, 2, 4, 1e-5];
  const model = new CharLSTM(V, H, Float64Array, 7);
  for (const p of Object.values(model.p)) for (let i = 0; i < p.length; i++) p[i] *= 3; // livelier
  const rand = random(3);
  const ids = Int32Array.from({ length: 50 }, () => Math.floor(rand() * V));
  const { x, y } = batch(ids, B, T, rand);
  model.forward(x, y, B, T);
  model.backward(x, y);
  let worst = 0;
  let checked = 0;
  for (const [name, p] of Object.entries(model.p)) {
    for (let i = 0; i < p.length; i++) {
      const keep = p[i];
      p[i] = keep + eps;
      const up = model.forward(x, y, B, T);
      p[i] = keep - eps;
      const down = model.forward(x, y, B, T);
      p[i] = keep;
      const numeric = (up - down) / (2 * eps);
      const analytic = model.g[name][i];
      worst = Math.max(
        worst,
        Math.abs(numeric - analytic) / Math.max(1e-8, Math.abs(numeric) + Math.abs(analytic)),
      );
      checked += 1;
    }
  }
  return {
    check: "finite differences",
    parameters: checked,
    max_rel_error: worst,
    ok: worst < 1e-6,
  };
}

function main() {
  const { values } = parseArgs({
    options: {
      check: { type: "boolean", default: false },
      text: { type: "string", default: "backend/corpora/english.txt" },
      hidden: { type: "string", default: "256" },
      batch: { type: "string", default: "16" },
      seq: { type: "string", default: "100" },
      seconds: { type: "string", default: "8" },
      lr: { type: "string", default: "0.003" },
      clip: { type: "string", default: "1" },
    },
  });
  const result = values.check
    ? gradientCheck()
    : bench({
        text: readFileSync(values.text, "utf8"),
        hidden: Number(values.hidden),
        batch: Number(values.batch),
        seq: Number(values.seq),
        seconds: Number(values.seconds),
        lr: Number(values.lr),
        clip: Number(values.clip),
      });
  process.stdout.write(JSON.stringify(result) + "\n");
  if (values.check && !result.ok) process.exitCode = 1;
}

main();
