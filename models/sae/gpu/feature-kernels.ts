/**
 * The WGSL kernels of feature discovery and the feature analyses
 * (features.ts runs them), on kernels.ts's header, tiled matmul and per-row
 * top-k selection. They compute what the CPU path computes
 * (models/features/discover.ts and analysis.ts over sae/encode.ts's ONNX
 * encoder): the same encoder, the same active set (a feature is active where
 * its activation is > 0), the same order of folding rows into each feature's
 * statistics, so the top examples kept are the same ones.
 *
 * Buffers (row-major; R = rows encoded now, at most the capacity; S = d_sae;
 * K = examples kept a feature; B = histogram bins):
 *   x [R, d_in], W_enc [d_in, S], b_enc [S], b_dec [d_in], threshold [S] (JumpReLU)
 *   pre [R, S]            x_c·W_enc + b_enc (TopK, BatchTopK: before the selection)
 *   f [R, S]              activations
 *   pos u32 [R]           the dataset position of each row
 *   stat_u u32 [S, 2 + B] per feature: active rows, examples kept, histogram counts
 *   stat_f [S, 4]         per feature: Σ value, its compensation (Neumaier), max, smallest kept value
 *   top_val [S, K], top_pos u32 [S, K]   kept peaks and their positions
 *   queries u32 [Q, 2]    (row, feature) pairs whose activation is wanted; out [Q]
 *   target_feature u32 [1]      the feature correlations are taken with
 *   corr [S, 6]           per feature: Σ a, Σ a², Σ a_target·a, each with its compensation
 *   step (uniform)        kernels.ts's Step; only `batch` (= R, or Q) is read
 */
import { f32, header, matmul, read, rw, uniform, type Kernel, type KernelConfig } from './kernels.ts';

/** Threads of a per-feature workgroup (one thread a feature). */
export const FEATURE_THREADS = 64;
/** Words of a feature's float statistics in stat_f. */
export const STAT_F = { sum: 0, comp: 1, max: 2, min: 3, size: 4 } as const;
/** Words of a feature's integer statistics in stat_u before its histogram. */
export const STAT_U = { count: 0, kept: 1, hist: 2 } as const;
/** Words of a feature's correlation sums in corr. */
export const CORR = { sum: 0, sumSq: 2, cross: 4, size: 6 } as const;

/** What the scan keeps: examples a feature, their spacing, the histogram's edges. */
export interface ScanConfig {
  /** examples kept a feature */
  topK: number;
  /** a kept peak closer than this to another (in dataset positions) replaces it only when higher */
  span: number;
  /** histogram edges (bins = edges.length - 1); a value v falls in the last bin i with v ≥ edges[i], clamped to the first and last bins */
  edges: readonly number[];
}

/** The smallest f32 ≥ v (v > 0): comparing an f32 value with it is comparing with v exactly. */
export function f32AtLeast(v: number): number {
  const r = Math.fround(v);
  if (r >= v) return r;
  const bits = new Uint32Array(Float32Array.of(r).buffer);
  bits[0]! += 1;
  return new Float32Array(bits.buffer)[0]!;
}

/** The bin of an activation v > 0 among `edges`, as the scan kernel finds it: one definition for both paths. */
export function histogramBin(edges: readonly number[], v: number): number {
  let b = 0;
  for (let i = 1; i < edges.length - 1; i++) if (v >= edges[i]!) b = i;
  return b;
}

/** encode_rows: f = relu(pre) (ReLU), pre · (pre > θ) (JumpReLU), or pre for TopK's selection, as sae/encode.ts's graph. */
export function encodeRowsKernel(c: KernelConfig): Kernel {
  const a = c.architecture;
  const store =
    a === 'relu'
      ? 'f[m * D_SAE + n] = max(acc + b_enc[n], 0.0);'
      : a === 'jumprelu'
        ? 'let p = acc + b_enc[n]; f[m * D_SAE + n] = p * select(0.0, 1.0, p > threshold[n]);'
        : 'pre[m * D_SAE + n] = acc + b_enc[n];';
  return matmul(c, {
    name: 'encode_rows',
    bindings: [read('x'), read('b_dec'), read('W_enc'), read('b_enc'), ...(a === 'jumprelu' ? [read('threshold')] : []), a === 'relu' || a === 'jumprelu' ? rw('f') : rw('pre')],
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

/** The feature a thread of a per-feature kernel owns. */
const FEATURE_MAIN = `@compute @workgroup_size(${FEATURE_THREADS})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let ft = gid.x + gid.y * nwg.x * ${FEATURE_THREADS}u;
  if (ft >= D_SAE) { return; }`;

/**
 * scan: folds the R encoded rows into each feature's statistics and kept
 * peaks, one thread a feature going through the rows in order, as
 * discover.ts's CPU scan does (its `offer`, line for line).
 */
export function scanKernel(c: KernelConfig, s: ScanConfig): Kernel {
  const bins = s.edges.length - 1;
  const bindings = [read('f'), read('pos', 'u32'), rw('stat_u', 'u32'), rw('stat_f'), rw('top_val'), rw('top_pos', 'u32'), uniform];
  // the bin: the last inner edge at or below v, compared with each edge as an f32 exactly (f32AtLeast)
  const binOf = Array.from({ length: bins - 1 }, (_, i) => `  b += select(0u, 1u, v >= ${f32(f32AtLeast(s.edges[i + 1]!))});`).join('\n');
  const code = /* wgsl */ `${header(c, bindings)}
const TOP: u32 = ${s.topK}u;
const SPAN: u32 = ${s.span}u;
const SU: u32 = ${2 + bins}u;

fn bin_of(v: f32) -> u32 {
  var b = 0u;
${binOf}
  return b;
}

fn min_kept(base: u32) -> f32 {
  var m = top_val[base];
  for (var j = 1u; j < TOP; j++) { m = min(m, top_val[base + j]); }
  return m;
}

${FEATURE_MAIN}
  var count = stat_u[ft * SU];
  var kept = stat_u[ft * SU + 1u];
  var sum = stat_f[ft * 4u];
  var comp = stat_f[ft * 4u + 1u];
  var mx = stat_f[ft * 4u + 2u];
  var tmin = stat_f[ft * 4u + 3u];
  let base = ft * TOP;
  for (var r = 0u; r < step.batch; r++) {
    let v = f[r * D_SAE + ft];
    if (!(v > 0.0)) { continue; }
    count += 1u;
    let t = sum + v; // Neumaier's compensated sum: Σ stays within an f32 rounding of the float64 one
    if (abs(sum) >= abs(v)) { comp += (sum - t) + v; } else { comp += (v - t) + sum; }
    sum = t;
    mx = max(mx, v);
    let h = ft * SU + 2u + bin_of(v);
    stat_u[h] = stat_u[h] + 1u;
    if (kept == TOP && v <= tmin) { continue; }
    let p = pos[r];
    // one example a context window: a kept peak nearby is replaced only by a higher one
    var near = false;
    for (var j = 0u; j < kept; j++) {
      let q = top_pos[base + j];
      if (select(q - p, p - q, q < p) < SPAN) {
        near = true;
        if (v > top_val[base + j]) {
          top_val[base + j] = v;
          top_pos[base + j] = p;
          if (kept == TOP) { tmin = min_kept(base); }
        }
        break;
      }
    }
    if (near) { continue; }
    if (kept < TOP) {
      top_val[base + kept] = v;
      top_pos[base + kept] = p;
      kept += 1u;
      if (kept == TOP) { tmin = min_kept(base); }
      continue;
    }
    var m = 0u;
    for (var j = 1u; j < TOP; j++) { if (top_val[base + j] < top_val[base + m]) { m = j; } }
    top_val[base + m] = v;
    top_pos[base + m] = p;
    tmin = min_kept(base);
  }
  stat_u[ft * SU] = count;
  stat_u[ft * SU + 1u] = kept;
  stat_f[ft * 4u] = sum;
  stat_f[ft * 4u + 1u] = comp;
  stat_f[ft * 4u + 2u] = mx;
  stat_f[ft * 4u + 3u] = tmin;
}
`;
  return { name: 'scan', bindings, code };
}

/** pick: out[q] = f[row_q, feature_q] for the (row, feature) pairs in queries; step.batch = Q. */
export function pickKernel(c: KernelConfig): Kernel {
  const bindings = [read('f'), read('queries', 'u32'), rw('out'), uniform];
  const code = /* wgsl */ `${header(c, bindings)}
@compute @workgroup_size(${FEATURE_THREADS})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let q = gid.x + gid.y * nwg.x * ${FEATURE_THREADS}u;
  if (q >= step.batch) { return; }
  out[q] = f[queries[2u * q] * D_SAE + queries[2u * q + 1u]];
}
`;
  return { name: 'pick', bindings, code };
}

/** correlate: per feature g, adds Σ a_g, Σ a_g² and Σ a_target·a_g over the R encoded rows to corr, compensated. */
export function correlateKernel(c: KernelConfig): Kernel {
  const bindings = [read('f'), read('target_feature', 'u32'), rw('corr'), uniform];
  const code = /* wgsl */ `${header(c, bindings)}
// Neumaier's step: (sum, comp) + v
fn add(acc: vec2f, v: f32) -> vec2f {
  let t = acc.x + v;
  let e = select((v - t) + acc.x, (acc.x - t) + v, abs(acc.x) >= abs(v));
  return vec2f(t, acc.y + e);
}

${FEATURE_MAIN}
  let tf = target_feature[0];
  let o = ft * 6u;
  var s1 = vec2f(corr[o], corr[o + 1u]);
  var s2 = vec2f(corr[o + 2u], corr[o + 3u]);
  var sx = vec2f(corr[o + 4u], corr[o + 5u]);
  for (var r = 0u; r < step.batch; r++) {
    let v = f[r * D_SAE + ft];
    if (!(v > 0.0)) { continue; }
    s1 = add(s1, v);
    s2 = add(s2, v * v);
    sx = add(sx, f[r * D_SAE + tf] * v);
  }
  corr[o] = s1.x; corr[o + 1u] = s1.y;
  corr[o + 2u] = s2.x; corr[o + 3u] = s2.y;
  corr[o + 4u] = sx.x; corr[o + 5u] = sx.y;
}
`;
  return { name: 'correlate', bindings, code };
}
