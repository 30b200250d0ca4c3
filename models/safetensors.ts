/**
 * The safetensors format: an 8-byte little-endian header length N, N bytes of
 * JSON (`{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?}`),
 * then the tensor bytes, offsets relative to the end of the header.
 *
 * The reader validates the whole header before anything else (a size bound,
 * dtypes, shapes, offsets in range, contiguous and non-overlapping, sizes that
 * match dtype × shape) and then reads one tensor at a time, so a malformed or
 * hostile file gives a clear error, never a crash or a giant allocation. The
 * writer writes to a temporary name and renames, so a crash never leaves a
 * half file under the real name.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/** Element types Loupe reads and writes. */
export const DTYPE_BYTES = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 } as const;
export type Dtype = keyof typeof DTYPE_BYTES;

/** Largest header accepted, bytes (the reference implementation's bound). */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** One tensor's entry in the header. Offsets are absolute file positions here. */
export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** absolute byte offset in the file */
  offset: number;
  /** bytes */
  byteLength: number;
}

/** The typed array a dtype is read into. F16 and BF16 come as raw Uint16Array bits (see {@link toFloat32}). */
export type TensorData = Float64Array | Float32Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

/** A malformed file; the message names the file and what is wrong. */
export class SafetensorsError extends Error {
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

/** An open safetensors file: validated header, tensors read on demand. */
export interface SafetensorsFile {
  path: string;
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
  /** Reads one tensor into a fresh, aligned typed array. */
  read(name: string): Promise<TensorData>;
  close(): Promise<void>;
}

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Parses and validates a header given the file size. Exported for tests of
 * the validation on synthetic headers.
 */
export function parseHeader(file: string, json: string, headerBytes: number, fileSize: number): { metadata: Record<string, string>; tensors: Map<string, TensorInfo> } {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (err) {
    throw new SafetensorsError(file, `header is not valid JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new SafetensorsError(file, 'header is not a JSON object');
  const dataStart = 8 + headerBytes;
  const dataBytes = fileSize - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  const ranges: [number, number, string][] = [];
  for (const [name, entry] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw new SafetensorsError(file, '__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw new SafetensorsError(file, `__metadata__.${k} must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) throw new SafetensorsError(file, `tensor "${name}": entry is not an object`);
    if (typeof e.dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, e.dtype)) {
      throw new SafetensorsError(file, `tensor "${name}": unsupported dtype ${JSON.stringify(e.dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
    }
    const dtype = e.dtype as Dtype;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(file, `tensor "${name}": shape must be a list of non-negative integers`);
    }
    const shape = e.shape as number[];
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) || offsets[0] > offsets[1]) {
      throw new SafetensorsError(file, `tensor "${name}": data_offsets must be [begin, end] with 0 ≤ begin ≤ end`);
    }
    const [begin, end] = offsets as [number, number];
    const elements = product(shape);
    if (!Number.isSafeInteger(elements * DTYPE_BYTES[dtype]) || elements * DTYPE_BYTES[dtype] !== end - begin) {
      throw new SafetensorsError(file, `tensor "${name}": ${dtype} ${JSON.stringify(shape)} needs ${elements * DTYPE_BYTES[dtype]} bytes but data_offsets span ${end - begin}`);
    }
    if (end > dataBytes) throw new SafetensorsError(file, `tensor "${name}": data_offsets end ${end} is past the end of the data (${dataBytes} bytes; truncated file?)`);
    ranges.push([begin, end, name]);
    tensors.set(name, { name, dtype, shape, offset: dataStart + begin, byteLength: end - begin });
  }
  // The data must be covered exactly once: no overlaps, no holes (as the reference implementation requires).
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cursor = 0;
  for (const [begin, end, name] of ranges) {
    if (begin < cursor) throw new SafetensorsError(file, `tensor "${name}" overlaps the tensor before it`);
    if (begin > cursor) throw new SafetensorsError(file, `a hole of ${begin - cursor} bytes before tensor "${name}"`);
    cursor = end;
  }
  if (cursor !== dataBytes) throw new SafetensorsError(file, `${dataBytes - cursor} bytes after the last tensor are not described by the header`);
  return { metadata, tensors };
}

function view(dtype: Dtype, buffer: ArrayBuffer): TensorData {
  switch (dtype) {
    case 'F64':
      return new Float64Array(buffer);
    case 'F32':
      return new Float32Array(buffer);
    case 'F16':
    case 'BF16':
      return new Uint16Array(buffer);
    case 'I64':
      return new BigInt64Array(buffer);
    case 'I32':
      return new Int32Array(buffer);
    case 'I16':
      return new Int16Array(buffer);
    case 'I8':
      return new Int8Array(buffer);
    case 'U8':
    case 'BOOL':
      return new Uint8Array(buffer);
  }
}

/** Opens and validates a safetensors file; only the header is read. */
export async function openSafetensors(file: string): Promise<SafetensorsFile> {
  const handle = await fs.open(file, 'r');
  try {
    const { size } = await handle.stat();
    if (size < 8) throw new SafetensorsError(file, `file is ${size} bytes, too short for a safetensors header`);
    const lenBuf = Buffer.alloc(8);
    await handle.read(lenBuf, 0, 8, 0);
    const headerLen = lenBuf.readBigUInt64LE(0);
    if (headerLen > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(file, `header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
    const headerBytes = Number(headerLen);
    if (8 + headerBytes > size) throw new SafetensorsError(file, `header length ${headerBytes} is past the end of the ${size}-byte file`);
    const headerBuf = Buffer.alloc(headerBytes);
    await handle.read(headerBuf, 0, headerBytes, 8);
    const { metadata, tensors } = parseHeader(file, headerBuf.toString('utf8'), headerBytes, size);
    return {
      path: file,
      metadata,
      tensors,
      async read(name) {
        const info = tensors.get(name);
        if (!info) throw new SafetensorsError(file, `no tensor named "${name}"`);
        const buffer = new ArrayBuffer(info.byteLength);
        const { bytesRead } = await handle.read(new Uint8Array(buffer), 0, info.byteLength, info.offset);
        if (bytesRead !== info.byteLength) throw new SafetensorsError(file, `tensor "${name}" ended early (file changed while open?)`);
        return view(info.dtype, buffer);
      },
      close: () => handle.close(),
    };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

const F16_EXP = new Float32Array(1);
const F16_U32 = new Uint32Array(F16_EXP.buffer);

/** Decodes IEEE half-precision bits into float32 values. */
export function f16ToFloat32(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i]!;
    const sign = (h & 0x8000) << 16;
    const exp = (h >> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      // zero or subnormal: mant × 2^-24
      out[i] = (sign ? -1 : 1) * mant * 5.960464477539063e-8;
      continue;
    }
    F16_U32[0] = exp === 0x1f ? sign | 0x7f800000 | (mant << 13) : sign | ((exp + 112) << 23) | (mant << 13);
    out[i] = F16_EXP[0]!;
  }
  return out;
}

/** Decodes bfloat16 bits (the top half of a float32) into float32 values. */
export function bf16ToFloat32(bits: Uint16Array): Float32Array {
  const u32 = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) u32[i] = bits[i]! << 16;
  return new Float32Array(u32.buffer);
}

/** Converts any floating tensor read by {@link SafetensorsFile.read} to float32. */
export function toFloat32(dtype: Dtype, data: TensorData): Float32Array {
  if (dtype === 'F32') return data as Float32Array;
  if (dtype === 'F16') return f16ToFloat32(data as Uint16Array);
  if (dtype === 'BF16') return bf16ToFloat32(data as Uint16Array);
  if (dtype === 'F64') return Float32Array.from(data as Float64Array);
  throw new Error(`toFloat32: ${dtype} is not a floating type`);
}

/** A tensor to write. `data` must hold exactly product(shape) elements of `dtype`. */
export interface TensorToWrite {
  dtype: Dtype;
  shape: number[];
  data: TensorData;
}

/**
 * Writes tensors (in name order) and optional string metadata to `file`,
 * through a temporary file renamed into place.
 */
export async function writeSafetensors(file: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Promise<void> {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const bytes = product(t.shape) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== bytes) throw new Error(`writeSafetensors: tensor "${name}" has ${t.data.byteLength} bytes, ${t.dtype} ${JSON.stringify(t.shape)} needs ${bytes}`);
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.alloc(8 + Buffer.byteLength(json));
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)), 0);
  head.write(json, 8, 'utf8');
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, 'w');
  try {
    await handle.write(head);
    for (const name of names) {
      const d = tensors[name]!.data;
      await handle.write(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
    }
    await handle.sync();
    await handle.close();
    await fs.rename(tmp, file);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw err;
  }
}
