/**
 * The WGSL kernels of the decoder searches (search.ts runs them): the server
 * through Dawn and the browser through `navigator.gpu` compile these same
 * sources. Plain TypeScript that only writes strings: browser-safe.
 *
 * Buffers (row-major; R = rows of one chunk of the decoder, S = d_sae):
 *   W [R, d_in]       a chunk of W_dec, float32, or halves two to a u32 word (little-endian:
 *                     element e in word e >> 1, the low half first), which unpack2x16float
 *                     widens: core WGSL, so half storage needs no `shader-f16` on the adapter
 *   v [d_in]          the vector the rows are dotted with, float32
 *   out [S]           one value a feature, float32, for every chunk at its rows
 *   acts [T, S]       activations of T tokens, float32 (text_max)
 *   best [S]          per feature: the largest activation over the tokens; best_at u32 [S]: its token
 *   params (uniform)  {@link PARAM_WORDS} u32: first row of the chunk, its rows, T (text_max)
 *
 * Sums run in float32 in a fixed order (each of {@link ROW_LANES} lanes
 * strides the row, then a tree over the lanes), whatever the storage type.
 */
import type { Binding, Kernel } from './kernels.ts';

/** Threads of a row workgroup (one workgroup a decoder row). */
export const ROW_LANES = 64;
/** Threads of a per-feature workgroup (text_max: one thread a feature). */
export const FEATURE_LANES = 64;
/** Words of the params uniform (padded to 16 bytes). */
export const PARAM_WORDS = 4;
/** Word offsets in the params uniform. */
export const PARAM = { first: 0, rows: 1, tokens: 2 } as const;

/** Storage type of the decoder rows. */
export type RowType = 'f32' | 'f16';

/** What a row kernel computes for each row W[r]: `dot` W[r]·v, `norm` ‖W[r]‖. */
export type RowOp = 'dot' | 'norm';

const PARAMS = `struct Params { first: u32, rows: u32, tokens: u32, pad: u32 }`;

/**
 * row_dot / row_norm: out[first + r] = W[r]·v (or ‖W[r]‖) for the R rows of
 * one chunk; one workgroup a row, dispatched as pipeline.ts's flat().
 * @example rowKernel({ dIn: 768, type: 'f16', op: 'dot' })
 */
export function rowKernel(o: { dIn: number; type: RowType; op: RowOp }): Kernel {
  const dot = o.op === 'dot';
  // prepare() reads each binding's kind only; W is declared array<u32> below when half
  const bindings: Binding[] = [{ name: 'W', kind: 'read', type: 'f32' }, ...(dot ? [{ name: 'v', kind: 'read', type: 'f32' } as Binding] : []), { name: 'out', kind: 'rw', type: 'f32' }, { name: 'params', kind: 'uniform', type: 'Step' }];
  const at = (i: number) => `@group(0) @binding(${i})`;
  const term = dot ? 'w * v[i]' : 'w * w';
  const load =
    o.type === 'f16'
      ? 'let e = r * D_IN + i;\n    let pair = unpack2x16float(W[e >> 1u]);\n    let w = select(pair.x, pair.y, (e & 1u) == 1u);'
      : 'let w = W[r * D_IN + i];';
  const code = /* wgsl */ `${PARAMS}
const D_IN: u32 = ${o.dIn}u;
${at(0)} var<storage, read> W: array<${o.type === 'f16' ? 'u32' : 'f32'}>;
${dot ? `${at(1)} var<storage, read> v: array<f32>;\n` : ''}${at(dot ? 2 : 1)} var<storage, read_write> out: array<f32>;
${at(dot ? 3 : 2)} var<uniform> params: Params;
var<workgroup> part: array<f32, ${ROW_LANES}>;

@compute @workgroup_size(${ROW_LANES})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) li: u32) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= params.rows) { return; }
  var acc = 0.0;
  for (var i = li; i < D_IN; i += ${ROW_LANES}u) {
    ${load}
    acc += ${term};
  }
  part[li] = acc;
  workgroupBarrier();
  for (var s = ${ROW_LANES / 2}u; s > 0u; s >>= 1u) {
    if (li < s) { part[li] += part[li + s]; }
    workgroupBarrier();
  }
  if (li == 0u) { out[params.first + r] = ${dot ? 'part[0]' : 'sqrt(part[0])'}; }
}
`;
  return { name: dot ? 'row_dot' : 'row_norm', bindings, code };
}

/**
 * text_max: per feature, its largest activation over the T tokens of `acts`
 * and the first token that reaches it (0 and token 0 when it never fires).
 */
export function textMaxKernel(o: { dSae: number }): Kernel {
  const bindings: Binding[] = [
    { name: 'acts', kind: 'read', type: 'f32' },
    { name: 'best', kind: 'rw', type: 'f32' },
    { name: 'best_at', kind: 'rw', type: 'u32' },
    { name: 'params', kind: 'uniform', type: 'Step' },
  ];
  const code = /* wgsl */ `${PARAMS}
const D_SAE: u32 = ${o.dSae}u;
@group(0) @binding(0) var<storage, read> acts: array<f32>;
@group(0) @binding(1) var<storage, read_write> best: array<f32>;
@group(0) @binding(2) var<storage, read_write> best_at: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(${FEATURE_LANES})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let f = gid.x + gid.y * nwg.x * ${FEATURE_LANES}u;
  if (f >= D_SAE) { return; }
  var m = 0.0;
  var at = 0u;
  for (var t = 0u; t < params.tokens; t++) {
    let a = acts[t * D_SAE + f];
    if (a > m) { m = a; at = t; }
  }
  best[f] = m;
  best_at[f] = at;
}
`;
  return { name: 'text_max', bindings, code };
}
