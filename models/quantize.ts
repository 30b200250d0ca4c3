/**
 * Weight formats of a loaded model: fp32, fp16, int8 per output channel
 * (ONNX DequantizeLinear, symmetric) and 4-bit blocks of 32 along the input
 * axis (ONNX Runtime's MatMulNBits, asymmetric with a zero point per block).
 *
 * Weights come in as W[out][in] (row-major, torch.nn.Linear's layout).
 */

export const MODEL_DTYPES = ['fp32', 'fp16', 'q8', 'q4'] as const;
export type ModelDtype = (typeof MODEL_DTYPES)[number];

const F32 = new Float32Array(1);
const U32 = new Uint32Array(F32.buffer);

/** float32 → IEEE half bits, round to nearest even; overflow → ±inf. */
export function float32ToF16(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    F32[0] = values[i]!;
    const x = U32[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      // subnormal half (or zero)
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let h = mant >>> shift;
      const rest = mant & ((1 << shift) - 1);
      const halfway = 1 << (shift - 1);
      if (rest > halfway || (rest === halfway && h & 1)) h++;
      out[i] = sign | h;
      continue;
    }
    let h = (e << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++; // may carry into the exponent, which is right
    out[i] = sign | h;
  }
  return out;
}

/** Transposes a row-major [rows, cols] matrix. */
export function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const B = 32;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) {
        const base = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = w[base + c]!;
      }
    }
  }
  return out;
}

export interface Q8Weight {
  /** int8 [in, out] (MatMul's layout), quantized per output channel */
  q: Int8Array;
  /** [out] */
  scale: Float32Array;
}

/** Symmetric int8 per output channel: W ≈ q · scale[out], returned as [in, out]. */
export function quantizeQ8(wOutIn: Float32Array, outF: number, inF: number): Q8Weight {
  const scale = new Float32Array(outF);
  const q = new Int8Array(outF * inF);
  for (let o = 0; o < outF; o++) {
    let max = 0;
    const row = o * inF;
    for (let i = 0; i < inF; i++) max = Math.max(max, Math.abs(wOutIn[row + i]!));
    const s = max > 0 ? max / 127 : 1;
    scale[o] = s;
    const inv = 1 / s;
    for (let i = 0; i < inF; i++) q[i * outF + o] = Math.max(-127, Math.min(127, Math.round(wOutIn[row + i]! * inv)));
  }
  return { q, scale };
}

export const Q4_BLOCK = 32;

export interface Q4Weight {
  /** uint8 [out, blocks, 16]: value 2j in the low nibble, 2j+1 in the high one */
  packed: Uint8Array;
  /** [out · blocks] */
  scales: Float32Array;
  /** uint8 [out · ceil(blocks / 2)], two 4-bit zero points a byte (low nibble first) */
  zeroPoints: Uint8Array;
  blocks: number;
}

/**
 * 4-bit asymmetric blocks of {@link Q4_BLOCK} along the input axis, in the
 * layout of com.microsoft.MatMulNBits (bits 4): W ≈ (q - zp) · scale.
 * The input axis is zero-padded to a whole number of blocks.
 */
export function quantizeQ4(wOutIn: Float32Array, outF: number, inF: number): Q4Weight {
  const blocks = Math.ceil(inF / Q4_BLOCK);
  const packed = new Uint8Array(outF * blocks * (Q4_BLOCK / 2));
  const scales = new Float32Array(outF * blocks);
  const zpBytes = Math.ceil(blocks / 2);
  const zeroPoints = new Uint8Array(outF * zpBytes);
  const q = new Uint8Array(Q4_BLOCK);
  for (let o = 0; o < outF; o++) {
    for (let b = 0; b < blocks; b++) {
      const start = o * inF + b * Q4_BLOCK;
      const n = Math.min(Q4_BLOCK, inF - b * Q4_BLOCK);
      let min = 0;
      let max = 0; // the range always holds 0 so that padding is exact
      for (let i = 0; i < n; i++) {
        const v = wOutIn[start + i]!;
        if (v < min) min = v;
        if (v > max) max = v;
      }
      const scale = max > min ? (max - min) / 15 : 1;
      const zp = Math.max(0, Math.min(15, Math.round(-min / scale)));
      const inv = 1 / scale;
      for (let i = 0; i < Q4_BLOCK; i++) {
        q[i] = i < n ? Math.max(0, Math.min(15, Math.round(wOutIn[start + i]! * inv) + zp)) : zp;
      }
      const dst = (o * blocks + b) * (Q4_BLOCK / 2);
      for (let j = 0; j < Q4_BLOCK / 2; j++) packed[dst + j] = q[2 * j]! | (q[2 * j + 1]! << 4);
      scales[o * blocks + b] = scale;
      const zi = o * zpBytes + (b >> 1);
      zeroPoints[zi] = b & 1 ? zeroPoints[zi]! | (zp << 4) : zp;
    }
  }
  return { packed, scales, zeroPoints, blocks };
}

/** Bytes a weight of out × in elements takes in memory at each dtype. */
export function weightBytes(dtype: ModelDtype, outF: number, inF: number): number {
  switch (dtype) {
    case 'fp32':
      return outF * inF * 4;
    case 'fp16':
      return outF * inF * 2;
    case 'q8':
      return outF * inF + outF * 4;
    case 'q4': {
      const blocks = Math.ceil(inF / Q4_BLOCK);
      return outF * blocks * (Q4_BLOCK / 2 + 4) + outF * Math.ceil(blocks / 2);
    }
  }
}

/**
 * How closely quantized logits follow the fp32 ones, per position: the share
 * of positions whose top-1 token agrees, and the mean KL(p_fp32 ‖ p_quant)
 * of the next-token distributions (nats).
 */
export function logitAgreement(reference: Float32Array, test: Float32Array, vocab: number): { top1: number; meanKl: number; positions: number } {
  const n = reference.length / vocab;
  let agree = 0;
  let kl = 0;
  for (let t = 0; t < n; t++) {
    const o = t * vocab;
    let ra = 0;
    let ta = 0;
    let rMax = -Infinity;
    let tMax = -Infinity;
    for (let i = 0; i < vocab; i++) {
      const r = reference[o + i]!;
      const q = test[o + i]!;
      if (r > rMax) (rMax = r), (ra = i);
      if (q > tMax) (tMax = q), (ta = i);
    }
    if (ra === ta) agree++;
    let rSum = 0;
    let tSum = 0;
    for (let i = 0; i < vocab; i++) {
      rSum += Math.exp(reference[o + i]! - rMax);
      tSum += Math.exp(test[o + i]! - tMax);
    }
    const rLog = rMax + Math.log(rSum);
    const tLog = tMax + Math.log(tSum);
    let k = 0;
    for (let i = 0; i < vocab; i++) {
      const lp = reference[o + i]! - rLog;
      k += Math.exp(lp) * (lp - (test[o + i]! - tLog));
    }
    kl += k;
  }
  return { top1: agree / n, meanKl: kl / n, positions: n };
}
