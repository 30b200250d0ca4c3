/**
 * The WGSL kernels of one SAE training step (stepper.ts says in which order
 * it runs them), fp32 throughout. They compute exactly what graph.ts's ONNX train
 * graph computes, operation for operation where rounding could differ
 * (e.g. g_Wenc = (1-β1) · (xcᵀ·g_pre), not xcᵀ·((1-β1) g_pre)); the per-step
 * scalars (1/B, λ/B, Adam's folded step) are rounded to f32 on the host, as
 * the graph's own f32 arithmetic rounds them, since WGSL's division is not
 * correctly rounded.
 *
 * Buffers (all row-major, f32 unless said; B = this step's batch, at most
 * the capacity the batch buffers were made for):
 *   x [B, d_in]          the batch                       e [B, d_in]    x̂ - x
 *   pre [B, d_sae]       x_c·W_enc + b_enc (not ReLU)    f [B, d_sae]   activations
 *   g [B, d_sae]         g_f = ∂loss/∂f, before the activation's mask
 *   W_enc [d_in, d_sae], b_enc [d_sae], W_dec [d_sae, d_in], b_dec [d_in],
 *   log_threshold [d_sae] (JumpReLU), and m_<p>, u_<p> of the same shapes:
 *   Adam's first moment and its second as graph.ts keeps it (u = v·(1-β1)²/(1-β2))
 *   grad_b_enc [d_sae], grad_b_dec [d_in], grad_log_threshold [d_sae]:
 *   the small gradients, already multiplied by (1-β1) as the graph's are
 *   (the two matrices' gradients never reach memory: their products apply Adam)
 *   norms [d_sae]        ‖W_dec[s]‖ before the update (ReLU)
 *   fired [d_sae]        tokens on which each feature was active
 *   fsum [d_sae]         Σ_b f (ReLU's L1 term)
 *   in_stats [3, d_in]   per input dimension: Σ_b (x̂-x)², Σ_b (x - mean_b x)², Σ_b g_x̂
 *   sel u32 [8]          BatchTopK's radix selection: [0] threshold key's high word
 *                        (the value), [1] low word (¬ flat index), [2] rank still
 *                        to find, [3] pass (0..7), [4] done
 *   hist u32 [256]       BatchTopK's digit histogram (atomic)
 *   metrics [8]          loss, mse, l1_loss, l0, sse, sst, batch_threshold, 0
 *   step (uniform)       {@link STEP_WORDS} words: see the Step struct below
 *
 * A mask "m" of the graph (the activations that reached f) is f > 0 for
 * every architecture: ReLU's is f > 0 itself; TopK's and BatchTopK's are
 * "kept and pre > 0", and f = relu(pre) where kept; JumpReLU's is pre > θ
 * with θ = exp(log θ) > 0, so f = pre > 0 exactly where it holds.
 *
 * Every kernel writes its workgroup memory before it reads it: device.ts
 * turns off Dawn's zero-initialisation of it.
 *
 * One file over 500 lines on purpose: the kernels are one step, and they
 * share the buffer layout above, the Step struct and the index conventions;
 * split, each part would need this whole header to be read. The kernels of
 * feature discovery and the analyses (feature-kernels.ts) build on its
 * header, matmul and top-k selection.
 */
import type { SaeArchitecture } from '../graph.ts';

/** The shapes and hyperparameters baked into the kernels as WGSL constants. */
export interface KernelConfig {
  architecture: SaeArchitecture;
  dIn: number;
  dSae: number;
  /** TopK, BatchTopK: active features a token (on average for BatchTopK) */
  k: number;
  /** JumpReLU: width of the threshold's rectangle kernel */
  bandwidth: number;
  beta1: number;
  beta2: number;
}

/** How a kernel sees a buffer. */
export interface Binding {
  name: string;
  kind: 'read' | 'rw' | 'uniform';
  type: 'f32' | 'u32' | 'atomic<u32>' | 'Step';
}

/** One compute kernel: WGSL with one entry point `main` and its bindings in group 0, in order. */
export interface Kernel {
  name: string;
  bindings: Binding[];
  code: string;
}

/** Words (u32/f32) of the per-step uniform, in the Step struct's order. */
export const STEP_WORDS = 12;
/** Word offsets in the per-step uniform. */
export const STEP = { batch: 0, invB: 1, gxScale: 2, l1: 3, l1InvB: 4, l1InvBGs: 5, adamStep: 6, adamEps: 7 } as const;
/** Entries of the metrics buffer. */
export const METRICS = { loss: 0, mse: 1, l1: 2, l0: 3, sse: 4, sst: 5, batchThreshold: 6, size: 8 } as const;
/** Words of the BatchTopK selection state. */
export const SELECT_WORDS = 8;

/** Matmul tile: 64×64 outputs a workgroup of 16×16 threads (4×4 each), 16 deep. */
export const TILE = 64;
/** Threads of the reduction and elementwise kernels' workgroups. */
export const WORKGROUP = 256;
/** Feature columns a column-reduction workgroup covers (64 columns × 4 row lanes). */
export const COLUMNS = 64;
/** Threads of a row-norm workgroup (one workgroup a decoder row). */
export const ROW_THREADS = 64;
/** Threads of a per-row TopK selection workgroup and of grad_b_dec's (few: their loops hold barriers). */
export const ROW_SELECT_THREADS = 64;
/** Most workgroups of BatchTopK's histogram pass (its threads loop over the rest). */
export const HIST_WORKGROUPS = 1024;
/** Fewest elements a histogram thread counts before more workgroups are used (SwiftShader pays dearly for each). */
export const HIST_PER_THREAD = 16;

/** An f32 constant exactly: the bits of Math.fround(v), so no literal rounding is left to the compiler. */
export function f32(v: number): string {
  const u = new Uint32Array(Float32Array.of(v).buffer)[0]!;
  return `bitcast<f32>(0x${u.toString(16).padStart(8, '0')}u)`;
}

function declare(bindings: Binding[]): string {
  return bindings
    .map((b, i) => {
      const at = `@group(0) @binding(${i})`;
      if (b.kind === 'uniform') return `${at} var<uniform> ${b.name}: Step;`;
      return `${at} var<storage, ${b.kind === 'rw' ? 'read_write' : 'read'}> ${b.name}: array<${b.type}>;`;
    })
    .join('\n');
}

/** The struct, constants and helpers every kernel shares, then its bindings. */
export function header(c: KernelConfig, bindings: Binding[]): string {
  return /* wgsl */ `
struct Step {
  batch: u32,        // B: rows in this step's batch
  inv_b: f32,        // f32(1/B)
  gx_scale: f32,     // f32(2/B): g_x̂ = (x̂ - x) · gx_scale
  l1: f32,           // λ: ReLU's L1 coefficient, JumpReLU's L0 coefficient
  l1_inv_b: f32,     // f32(λ · inv_b)
  l1_inv_b_gs: f32,  // f32(l1_inv_b · (1-β1))
  adam_step: f32,    // lr/(1-β1^t), with u's scale folded in (graph.ts adamScalars)
  adam_eps: f32,     // ε, likewise
  pad0: u32, pad1: u32, pad2: u32, pad3: u32,
}
const D_IN: u32 = ${c.dIn}u;
const D_SAE: u32 = ${c.dSae}u;
const K: u32 = ${c.k}u;
const BETA1: f32 = ${f32(c.beta1)};
const BETA2: f32 = ${f32(c.beta2)};
const GS: f32 = ${f32(1 - c.beta1)};          // (1-β1): every gradient carries it, as the graph's do
const HALF_BW: f32 = ${f32(c.bandwidth / 2)};  // JumpReLU: the rectangle kernel is |pre - θ| < ε/2
const NEG_INV_BW: f32 = ${f32(-1 / c.bandwidth)};
${declare(bindings)}

// Adam as the graph applies it: m' = β1 m + g, u' = β2 u + g², p' = p - step · m' / (√u' + eps),
// with g already (1-β1) times the gradient. Returns (p', m', u').
fn adam(p: f32, m: f32, u: f32, g: f32, s: Step) -> vec3f {
  let m2 = m * BETA1 + g;
  let u2 = u * BETA2 + g * g;
  return vec3f(p - s.adam_step * (m2 / (sqrt(u2) + s.adam_eps)), m2, u2);
}

// An order-preserving key of a float: a > b as floats ⇔ key(a) > key(b) as u32
// (-0 counts as +0, as a float comparison does).
fn order_key(v: f32) -> u32 {
  let bits = bitcast<u32>(select(v, 0.0, v == 0.0));
  return select(bits | 0x80000000u, ~bits, (bits & 0x80000000u) != 0u);
}
`;
}

// ---------------------------------------------------------------------------
// Tiled matmul: C[M, N] = Σ_k A[m, k] · B[k, n], summed in order of k.
// ---------------------------------------------------------------------------

export interface MatmulSpec {
  name: string;
  bindings: Binding[];
  /** WGSL expressions of the sizes */
  M: string;
  N: string;
  K: string;
  /** whether A (B) is contiguous along k in memory, so the tile loads read runs along it */
  aAlongK: boolean;
  bAlongK: boolean;
  /** body of fn load_a(m: u32, k: u32) -> f32, called in bounds only */
  loadA: string;
  /** body of fn load_b(k: u32, n: u32) -> f32 */
  loadB: string;
  /** body of fn store(m: u32, n: u32, acc: f32) */
  store: string;
}

export function matmul(c: KernelConfig, s: MatmulSpec): Kernel {
  const bindings = [...s.bindings, { name: 'step', kind: 'uniform', type: 'Step' } as Binding];
  const code = /* wgsl */ `${header(c, bindings)}
const TILE_M: u32 = ${TILE}u;
const TILE_N: u32 = ${TILE}u;
const TILE_K: u32 = 16u;
// rows padded by one float, so that loads running along k store to distinct banks
const STRIDE_M: u32 = TILE_M + 1u;
const STRIDE_N: u32 = TILE_N + 1u;
var<workgroup> tile_a: array<f32, 1040>; // [TILE_K, STRIDE_M]
var<workgroup> tile_b: array<f32, 1040>; // [TILE_K, STRIDE_N]

fn load_a(m: u32, k: u32) -> f32 { ${s.loadA} }
fn load_b(k: u32, n: u32) -> f32 { ${s.loadB} }
fn store(m: u32, n: u32, acc: f32) { ${s.store} }

// one 64×64 tile of C a workgroup: thread (x, y) owns rows y + 16i and columns x + 16j, i, j < 4
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32) {
  let rows = ${s.M};
  let cols = ${s.N};
  let depth = ${s.K};
  let m0 = wid.y * TILE_M;
  let n0 = wid.x * TILE_N;
  var acc: array<vec4f, 4>; // acc[i][j]: row y + 16i, column x + 16j
  for (var k0 = 0u; k0 < depth; k0 += TILE_K) {
    for (var r = 0u; r < 4u; r++) {
      let e = li + r * 256u;
      let ak = ${s.aAlongK ? 'e % TILE_K' : 'e / TILE_M'};
      let am = ${s.aAlongK ? 'e / TILE_K' : 'e % TILE_M'};
      var va = 0.0;
      if (m0 + am < rows && k0 + ak < depth) { va = load_a(m0 + am, k0 + ak); }
      tile_a[ak * STRIDE_M + am] = va;
      let bk = ${s.bAlongK ? 'e % TILE_K' : 'e / TILE_N'};
      let bn = ${s.bAlongK ? 'e / TILE_K' : 'e % TILE_N'};
      var vb = 0.0;
      if (n0 + bn < cols && k0 + bk < depth) { vb = load_b(k0 + bk, n0 + bn); }
      tile_b[bk * STRIDE_N + bn] = vb;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < TILE_K; kk++) {
      let ta = kk * STRIDE_M + lid.y;
      let tb = kk * STRIDE_N + lid.x;
      let b = vec4f(tile_b[tb], tile_b[tb + 16u], tile_b[tb + 32u], tile_b[tb + 48u]);
      acc[0] += tile_a[ta] * b;
      acc[1] += tile_a[ta + 16u] * b;
      acc[2] += tile_a[ta + 32u] * b;
      acc[3] += tile_a[ta + 48u] * b;
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    for (var j = 0u; j < 4u; j++) {
      let m = m0 + lid.y + 16u * i;
      let n = n0 + lid.x + 16u * j;
      if (m < rows && n < cols) { store(m, n, acc[i][j]); }
    }
  }
}
`;
  return { name: s.name, bindings, code };
}

export const read = (name: string, type: Binding['type'] = 'f32'): Binding => ({ name, kind: 'read', type });
export const rw = (name: string, type: Binding['type'] = 'f32'): Binding => ({ name, kind: 'rw', type });
export const uniform: Binding = { name: 'step', kind: 'uniform', type: 'Step' };

/**
 * encode: pre = (x - b_dec)·W_enc + b_enc [B, d_sae]. ReLU writes f = relu(pre)
 * only; JumpReLU writes pre and f = pre · (pre > exp(log θ)); TopK and
 * BatchTopK write pre, which their selection turns into f.
 */
export function encodeKernel(c: KernelConfig): Kernel {
  const a = c.architecture;
  const out = a === 'relu' ? [rw('f')] : a === 'jumprelu' ? [rw('pre'), rw('f'), read('log_threshold')] : [rw('pre')];
  const store =
    a === 'relu'
      ? 'f[m * D_SAE + n] = max(acc + b_enc[n], 0.0);'
      : a === 'jumprelu'
        ? 'let p = acc + b_enc[n]; pre[m * D_SAE + n] = p; f[m * D_SAE + n] = p * select(0.0, 1.0, p > exp(log_threshold[n]));'
        : 'pre[m * D_SAE + n] = acc + b_enc[n];';
  return matmul(c, {
    name: 'encode',
    bindings: [read('x'), read('b_dec'), read('W_enc'), read('b_enc'), ...out],
    M: 'step.batch',
    N: 'D_SAE',
    K: 'D_IN',
    aAlongK: true,
    bAlongK: false,
    loadA: 'return x[m * D_IN + k] - b_dec[k];',
    loadB: 'return W_enc[k * D_SAE + n];',
    store,
  });
}

/** decode: e = (f·W_dec + b_dec) - x [B, d_in]. */
export function decodeKernel(c: KernelConfig): Kernel {
  return matmul(c, {
    name: 'decode',
    bindings: [read('f'), read('W_dec'), read('b_dec'), read('x'), rw('e')],
    M: 'step.batch',
    N: 'D_IN',
    K: 'D_SAE',
    aAlongK: true,
    bAlongK: false,
    loadA: 'return f[m * D_SAE + k];',
    loadB: 'return W_dec[k * D_IN + n];',
    store: 'e[m * D_IN + n] = (acc + b_dec[n]) - x[m * D_IN + n];',
  });
}

/** grad_f: g = g_x̂·W_decᵀ [B, d_sae] (+ (λ/B) ‖W_dec[s]‖ for ReLU), g_x̂ = e · 2/B. */
export function gradFKernel(c: KernelConfig): Kernel {
  const relu = c.architecture === 'relu';
  return matmul(c, {
    name: 'grad_f',
    bindings: [read('e'), read('W_dec'), ...(relu ? [read('norms')] : []), rw('g')],
    M: 'step.batch',
    N: 'D_SAE',
    K: 'D_IN',
    aAlongK: true,
    bAlongK: true,
    loadA: 'return e[m * D_IN + k] * step.gx_scale;',
    loadB: 'return W_dec[n * D_IN + k];',
    store: relu ? 'g[m * D_SAE + n] = acc + step.l1_inv_b * norms[n];' : 'g[m * D_SAE + n] = acc;',
  });
}

/** grad_w_enc_adam: (1-β1) · x_cᵀ·(g ⊙ (f > 0)) [d_in, d_sae], applied to W_enc by Adam in place. */
export function gradWEncKernel(c: KernelConfig): Kernel {
  return matmul(c, {
    name: 'grad_w_enc_adam',
    bindings: [read('x'), read('b_dec'), read('g'), read('f'), rw('W_enc'), rw('m_W_enc'), rw('u_W_enc')],
    M: 'D_IN',
    N: 'D_SAE',
    K: 'step.batch',
    aAlongK: false,
    bAlongK: false,
    loadA: 'return x[k * D_IN + m] - b_dec[m];',
    loadB: 'let i = k * D_SAE + n; return select(0.0, g[i], f[i] > 0.0);',
    store: 'let i = m * D_SAE + n; let r = adam(W_enc[i], m_W_enc[i], u_W_enc[i], acc * GS, step); W_enc[i] = r.x; m_W_enc[i] = r.y; u_W_enc[i] = r.z;',
  });
}

/**
 * grad_w_dec_adam: (1-β1) · fᵀ·g_x̂ [d_sae, d_in] (+ W_dec[s] · ((λ/B)(1-β1) Σ_b f_bs) / ‖W_dec[s]‖
 * for ReLU), applied to W_dec by Adam in place.
 */
export function gradWDecKernel(c: KernelConfig): Kernel {
  const relu = c.architecture === 'relu';
  const grad = relu ? 'acc * GS + W_dec[i] * ((step.l1_inv_b_gs * fsum[m]) / norms[m])' : 'acc * GS';
  return matmul(c, {
    name: 'grad_w_dec_adam',
    bindings: [read('f'), read('e'), ...(relu ? [read('fsum'), read('norms')] : []), rw('W_dec'), rw('m_W_dec'), rw('u_W_dec')],
    M: 'D_SAE',
    N: 'D_IN',
    K: 'step.batch',
    aAlongK: false,
    bAlongK: false,
    loadA: 'return f[k * D_SAE + m];',
    loadB: 'return e[k * D_IN + n] * step.gx_scale;',
    store: `let i = m * D_IN + n; let r = adam(W_dec[i], m_W_dec[i], u_W_dec[i], ${grad}, step); W_dec[i] = r.x; m_W_dec[i] = r.y; u_W_dec[i] = r.z;`,
  });
}

// ---------------------------------------------------------------------------
// Top-k selection: a radix select, 8 bits a pass, on a 64-bit key per
// pre-activation: high word the value's order key, low word ¬index, so that
// keys are distinct and, among equal values, the lower index ranks higher
// (ONNX Runtime's TopK order). The k-th largest key T is found exactly; an
// element is kept when its key ≥ T. After the four value passes, when every
// element sharing T's value is kept, the index passes are skipped.
// ---------------------------------------------------------------------------

const RADIX_HELPERS = /* wgsl */ `
// bits of the key's high (low) word fixed before pass p (0..7, most significant byte first)
fn hi_mask(p: u32) -> u32 { return select(select(0xffffffffu << (32u - 8u * p), 0u, p == 0u), 0xffffffffu, p >= 4u); }
fn lo_mask(p: u32) -> u32 { return select(0xffffffffu << (32u - 8u * (p - 4u)), 0u, p <= 4u); }
fn digit(p: u32, hi: u32, lo: u32) -> u32 {
  return select((lo >> (24u - 8u * (p - 4u))) & 255u, (hi >> (24u - 8u * p)) & 255u, p < 4u);
}
`;

/**
 * The body of `fn pick(p: u32)`, the digit-picking rule shared by the per-row
 * and the batch selection: going down from digit 255, find the digit d* at
 * which the running count of the histogram reaches the rank r still to find;
 * fix d* in the threshold key and take the count above it off r; done when
 * (from the last value pass on) every element of d*'s bin is kept. `v` names
 * the WGSL places of the state (threshold key's words, rank, done flag) and
 * how to read bin d.
 */
function pickBody(v: { hi: string; lo: string; rank: string; done: string; count: (d: string) => string }): string {
  return /* wgsl */ `
  var cum = 0u;
  var chosen = 0u;
  var count = 0u;
  let r = ${v.rank};
  for (var d = 256u; d > 0u; d--) {
    let c = ${v.count('d - 1u')};
    if (cum + c >= r) { chosen = d - 1u; count = c; break; }
    cum += c;
  }
  ${v.rank} = r - cum;
  if (p < 4u) { ${v.hi} |= chosen << (24u - 8u * p); } else { ${v.lo} |= chosen << (24u - 8u * (p - 4u)); }
  if (p >= 3u && count == r - cum) { ${v.done} = 1u; }`;
}

/** topk_rows: per row of pre [B, d_sae], the k largest; writes f = relu(pre) there, 0 elsewhere. One workgroup a row. */
export function topkRowsKernel(c: KernelConfig): Kernel {
  const bindings = [read('pre'), rw('f'), uniform];
  const code = /* wgsl */ `${header(c, bindings)}
${RADIX_HELPERS}
var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> t_hi: u32;
var<workgroup> t_lo: u32;
var<workgroup> rank: u32;
var<workgroup> done: u32;

fn pick(p: u32) {${pickBody({ hi: 't_hi', lo: 't_lo', rank: 'rank', done: 'done', count: (d) => `atomicLoad(&hist[${d}])` })}
}

const T: u32 = ${ROW_SELECT_THREADS}u;

@compute @workgroup_size(T)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= step.batch) { return; }
  let base = row * D_SAE;
  if (li == 0u) { t_hi = 0u; t_lo = 0u; rank = K; done = 0u; }
  for (var p = 0u; p < 8u; p++) {
    if (workgroupUniformLoad(&done) != 0u) { break; } // also the barrier after the last pick
    for (var d = li; d < 256u; d += T) { atomicStore(&hist[d], 0u); }
    workgroupBarrier();
    let hm = hi_mask(p);
    let lm = lo_mask(p);
    let th = t_hi;
    let tl = t_lo;
    for (var s = li; s < D_SAE; s += T) {
      let hi = order_key(pre[base + s]);
      let lo = ~s;
      if ((hi & hm) == th && (lo & lm) == tl) { atomicAdd(&hist[digit(p, hi, lo)], 1u); }
    }
    workgroupBarrier();
    if (li == 0u) { pick(p); }
  }
  workgroupBarrier();
  let th = t_hi;
  let tl = t_lo;
  for (var s = li; s < D_SAE; s += T) {
    let v = pre[base + s];
    let hi = order_key(v);
    let keep = hi > th || (hi == th && ~s >= tl);
    f[base + s] = select(0.0, max(v, 0.0), keep);
  }
}
`;
  return { name: 'topk_rows', bindings, code };
}

/** select_histogram: one pass of BatchTopK's selection over pre [B·d_sae]: counts the candidates' digits into hist. */
export function selectHistogramKernel(c: KernelConfig): Kernel {
  const bindings = [read('pre'), read('sel', 'u32'), rw('hist', 'atomic<u32>'), uniform];
  const code = /* wgsl */ `${header(c, bindings)}
${RADIX_HELPERS}
var<workgroup> local_hist: array<atomic<u32>, 256>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  atomicStore(&local_hist[li], 0u);
  workgroupBarrier();
  let p = sel[3];
  // done: nothing left to count (the loop runs no times, the barriers stay uniform)
  let n = select(step.batch * D_SAE, 0u, sel[4] != 0u);
  let hm = hi_mask(p);
  let lm = lo_mask(p);
  let th = sel[0];
  let tl = sel[1];
  for (var i = gid.x; i < n; i += nwg.x * 256u) {
    let hi = order_key(pre[i]);
    let lo = ~i;
    if ((hi & hm) == th && (lo & lm) == tl) { atomicAdd(&local_hist[digit(p, hi, lo)], 1u); }
  }
  workgroupBarrier();
  let c = atomicLoad(&local_hist[li]);
  if (c != 0u) { atomicAdd(&hist[li], c); }
}
`;
  return { name: 'select_histogram', bindings, code };
}

/** select_pick: fixes one byte of BatchTopK's threshold key from hist, clears hist, moves to the next pass. One thread. */
export function selectPickKernel(c: KernelConfig): Kernel {
  const bindings = [rw('sel', 'u32'), rw('hist', 'atomic<u32>'), uniform];
  const code = /* wgsl */ `${header(c, bindings)}
fn pick(p: u32) {${pickBody({ hi: 'sel[0]', lo: 'sel[1]', rank: 'sel[2]', done: 'sel[4]', count: (d) => `atomicLoad(&hist[${d}])` })}
}

@compute @workgroup_size(1)
fn main() {
  if (sel[4] != 0u) { return; }
  pick(sel[3]);
  sel[3] += 1u;
  for (var d = 0u; d < 256u; d++) { atomicStore(&hist[d], 0u); }
}
`;
  return { name: 'select_pick', bindings, code };
}

/** select_apply: f = relu(pre) where pre's key ≥ the threshold key, else 0 [B, d_sae]. */
export function selectApplyKernel(c: KernelConfig): Kernel {
  const bindings = [read('pre'), read('sel', 'u32'), rw('f'), uniform];
  const code = /* wgsl */ `${header(c, bindings)}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + li;
  if (i >= step.batch * D_SAE) { return; }
  let v = pre[i];
  let hi = order_key(v);
  let keep = hi > sel[0] || (hi == sel[0] && ~i >= sel[1]);
  f[i] = select(0.0, max(v, 0.0), keep);
}
`;
  return { name: 'select_apply', bindings, code };
}

// ---------------------------------------------------------------------------
// Reductions
// ---------------------------------------------------------------------------

/** row_norms: norms[s] = ‖W_dec[s]‖ [d_sae]; with `normalize`, divides the row by it in place instead. One workgroup a row. */
export function rowNormsKernel(c: KernelConfig, normalize: boolean): Kernel {
  const bindings = normalize ? [rw('W_dec')] : [read('W_dec'), rw('norms')];
  const code = /* wgsl */ `${header(c, bindings)}
var<workgroup> part: array<f32, ${ROW_THREADS}>;

@compute @workgroup_size(${ROW_THREADS})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let s = wid.x + wid.y * nwg.x;
  if (s >= D_SAE) { return; }
  var acc = 0.0;
  for (var i = li; i < D_IN; i += ${ROW_THREADS}u) { let w = W_dec[s * D_IN + i]; acc += w * w; }
  part[li] = acc;
  workgroupBarrier();
  for (var w = ${ROW_THREADS / 2}u; w > 0u; w >>= 1u) {
    if (li < w) { part[li] += part[li + w]; }
    workgroupBarrier();
  }
  let n = sqrt(part[0]);
  ${normalize ? `for (var i = li; i < D_IN; i += ${ROW_THREADS}u) { W_dec[s * D_IN + i] = W_dec[s * D_IN + i] / n; }` : 'if (li == 0u) { norms[s] = n; }'}
}
`;
  return { name: normalize ? 'normalize_rows' : 'row_norms', bindings, code };
}

/**
 * col_stats_in: per input dimension d, over the batch: in_stats[0, d] = Σ (x̂-x)²,
 * [1, d] = Σ (x - mean x)², [2, d] = Σ g_x̂. 64 columns × 4 row lanes a workgroup.
 */
export function colStatsInKernel(c: KernelConfig): Kernel {
  const bindings = [read('x'), read('e'), rw('in_stats'), uniform];
  const code = /* wgsl */ `${header(c, bindings)}
var<workgroup> part: array<f32, 768>; // [3, 4 lanes, 64 columns]

fn lanes(q: u32, col: u32) -> f32 {
  return part[q * 256u + col] + part[q * 256u + 64u + col] + part[q * 256u + 128u + col] + part[q * 256u + 192u + col];
}

@compute @workgroup_size(64, 4)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let d = wid.x * 64u + lid.x;
  let lane = lid.y * 64u + lid.x;
  let rows = step.batch;
  var sx = 0.0;
  if (d < D_IN) { for (var b = lid.y; b < rows; b += 4u) { sx += x[b * D_IN + d]; } }
  part[lane] = sx;
  workgroupBarrier();
  let mean = lanes(0u, lid.x) * step.inv_b;
  workgroupBarrier();
  var sse = 0.0;
  var sst = 0.0;
  var gsum = 0.0;
  if (d < D_IN) {
    for (var b = lid.y; b < rows; b += 4u) {
      let r = e[b * D_IN + d];
      let dev = x[b * D_IN + d] - mean;
      sse += r * r;
      sst += dev * dev;
      gsum += r * step.gx_scale;
    }
  }
  part[lane] = sse;
  part[256u + lane] = sst;
  part[512u + lane] = gsum;
  workgroupBarrier();
  if (lid.y == 0u && d < D_IN) {
    in_stats[d] = lanes(0u, lid.x);
    in_stats[D_IN + d] = lanes(1u, lid.x);
    in_stats[2u * D_IN + d] = lanes(2u, lid.x);
  }
}
`;
  return { name: 'col_stats_in', bindings, code };
}

/**
 * col_stats_sae: per feature s, over the batch: fired = Σ (f > 0), fsum = Σ f
 * (ReLU), grad_b_enc = (1-β1) Σ g ⊙ (f > 0); JumpReLU also the threshold's
 * straight-through gradient: grad_log_threshold = (1-β1) · θ · (-(1/ε)) ·
 * (θ Σ g K + (λ/B) Σ K), K = 1{|pre - θ| < ε/2}, θ = exp(log θ).
 */
export function colStatsSaeKernel(c: KernelConfig): Kernel {
  const relu = c.architecture === 'relu';
  const jump = c.architecture === 'jumprelu';
  const bindings = [
    read('f'),
    read('g'),
    ...(jump ? [read('pre'), read('log_threshold'), rw('grad_log_threshold')] : []),
    rw('fired'),
    ...(relu ? [rw('fsum')] : []),
    rw('grad_b_enc'),
    uniform,
  ];
  const code = /* wgsl */ `${header(c, bindings)}
var<workgroup> part: array<f32, 1280>; // [5, 4 lanes, 64 columns]

fn lanes(q: u32, col: u32) -> f32 {
  return part[q * 256u + col] + part[q * 256u + 64u + col] + part[q * 256u + 128u + col] + part[q * 256u + 192u + col];
}

@compute @workgroup_size(64, 4)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let s = wid.x * 64u + lid.x;
  let lane = lid.y * 64u + lid.x;
  let rows = step.batch;
  var fired_n = 0.0;
  var f_sum = 0.0;
  var g_sum = 0.0;
  var gk_sum = 0.0;
  var k_sum = 0.0;
  if (s < D_SAE) {
    ${jump ? 'let theta = exp(log_threshold[s]);' : ''}
    for (var b = lid.y; b < rows; b += 4u) {
      let i = b * D_SAE + s;
      let a = f[i];
      let on = a > 0.0;
      fired_n += select(0.0, 1.0, on);
      f_sum += a;
      g_sum += select(0.0, g[i], on);
      ${jump ? 'let kern = select(0.0, 1.0, abs(pre[i] - theta) < HALF_BW); gk_sum += g[i] * kern; k_sum += kern;' : ''}
    }
  }
  part[lane] = fired_n;
  part[256u + lane] = f_sum;
  part[512u + lane] = g_sum;
  part[768u + lane] = gk_sum;
  part[1024u + lane] = k_sum;
  workgroupBarrier();
  if (lid.y == 0u && s < D_SAE) {
    fired[s] = lanes(0u, lid.x);
    ${relu ? 'fsum[s] = lanes(1u, lid.x);' : ''}
    grad_b_enc[s] = lanes(2u, lid.x) * GS;
    ${jump ? 'let theta = exp(log_threshold[s]); let g_theta = (theta * lanes(3u, lid.x) + step.l1_inv_b * lanes(4u, lid.x)) * NEG_INV_BW; grad_log_threshold[s] = (g_theta * theta) * GS;' : ''}
  }
}
`;
  return { name: 'col_stats_sae', bindings, code };
}

/** grad_b_dec: (1-β1) Σ_b g_x̂ - W_enc·grad_b_enc [d_in]. One workgroup an input dimension. */
export function gradBDecKernel(c: KernelConfig): Kernel {
  const bindings = [read('W_enc'), read('grad_b_enc'), read('in_stats'), rw('grad_b_dec')];
  const code = /* wgsl */ `${header(c, bindings)}
const T: u32 = ${ROW_SELECT_THREADS}u;
var<workgroup> part: array<f32, T>;

@compute @workgroup_size(T)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = wid.x + wid.y * nwg.x;
  if (i >= D_IN) { return; }
  var acc = 0.0;
  for (var s = li; s < D_SAE; s += T) { acc += W_enc[i * D_SAE + s] * grad_b_enc[s]; }
  part[li] = acc;
  workgroupBarrier();
  for (var w = T / 2u; w > 0u; w >>= 1u) {
    if (li < w) { part[li] += part[li + w]; }
    workgroupBarrier();
  }
  if (li == 0u) { grad_b_dec[i] = in_stats[2u * D_IN + i] * GS - part[0]; }
}
`;
  return { name: 'grad_b_dec', bindings, code };
}

/** adam: one Adam update of a small parameter p from its gradient grad (already × (1-β1)), elementwise. */
export function adamKernel(c: KernelConfig): Kernel {
  const bindings = [rw('p'), rw('m'), rw('u'), read('grad'), uniform];
  const code = /* wgsl */ `${header(c, bindings)}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + li;
  if (i >= arrayLength(&p)) { return; }
  let r = adam(p[i], m[i], u[i], grad[i], step);
  p[i] = r.x;
  m[i] = r.y;
  u[i] = r.z;
}
`;
  return { name: 'adam', bindings, code };
}

/**
 * metrics: the step's scalars (METRICS' order) from in_stats, fired, and for
 * ReLU fsum and norms (L1 = Σ_s fsum_s ‖W_dec[s]‖ / B), for BatchTopK the
 * selection's threshold (the smallest kept activation = relu(k·B-th largest pre)).
 */
export function metricsKernel(c: KernelConfig): Kernel {
  const a = c.architecture;
  const bindings = [
    read('in_stats'),
    read('fired'),
    ...(a === 'relu' ? [read('fsum'), read('norms')] : []),
    ...(a === 'batchtopk' ? [read('sel', 'u32')] : []),
    rw('metrics'),
    uniform,
  ];
  const l1 = a === 'relu' ? 'weighted * step.inv_b' : a === 'jumprelu' ? 'n_active * step.inv_b' : '0.0';
  const code = /* wgsl */ `${header(c, bindings)}
var<workgroup> part: array<f32, 1024>; // [4, 256]

fn key_value(k: u32) -> f32 {
  return bitcast<f32>(select(~k, k ^ 0x80000000u, (k & 0x80000000u) != 0u));
}

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32) {
  var sse = 0.0;
  var sst = 0.0;
  var n_active = 0.0;
  var weighted = 0.0;
  for (var d = li; d < D_IN; d += 256u) { sse += in_stats[d]; sst += in_stats[D_IN + d]; }
  for (var s = li; s < D_SAE; s += 256u) {
    n_active += fired[s];
    ${a === 'relu' ? 'weighted += fsum[s] * norms[s];' : ''}
  }
  part[li] = sse;
  part[256u + li] = sst;
  part[512u + li] = n_active;
  part[768u + li] = weighted;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w >>= 1u) {
    if (li < w) {
      for (var q = 0u; q < 4u; q++) { part[q * 256u + li] += part[q * 256u + li + w]; }
    }
    workgroupBarrier();
  }
  if (li == 0u) {
    sse = part[0];
    sst = part[256];
    n_active = part[512];
    weighted = part[768];
    let mse = sse * step.inv_b;
    let l1_loss = ${l1};
    metrics[0] = ${a === 'relu' || a === 'jumprelu' ? 'mse + step.l1 * l1_loss' : 'mse'};
    metrics[1] = mse;
    metrics[2] = l1_loss;
    metrics[3] = n_active * step.inv_b;
    metrics[4] = sse;
    metrics[5] = sst;
    metrics[6] = ${a === 'batchtopk' ? 'max(key_value(sel[0]), 0.0)' : '0.0'};
    metrics[7] = 0.0;
  }
}
`;
  return { name: 'metrics', bindings, code };
}
