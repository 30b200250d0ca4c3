/**
 * A protobuf encoder for the parts of the ONNX format Loupe writes
 * (ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto), following
 * onnx/onnx.proto3. Tensor bytes are never copied into intermediate buffers:
 * a message is a list of parts, joined once at the end.
 */

/** ONNX TensorProto.DataType values. */
export const DataType = {
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** An encoded message: its parts in order and their total length. */
class Message {
  readonly parts: Uint8Array[] = [];
  length = 0;
  private buf = new Uint8Array(256);
  private pos = 0;

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  private varint(v: number | bigint): void {
    this.ensure(10);
    if (typeof v === 'number' && v >= 0 && v <= Number.MAX_SAFE_INTEGER) {
      while (v > 0x7f) {
        this.buf[this.pos++] = (v % 128) | 0x80;
        v = Math.floor(v / 128);
      }
      this.buf[this.pos++] = v;
      return;
    }
    // negative numbers are encoded as 64-bit two's complement (10 bytes)
    let b = BigInt.asUintN(64, BigInt(v));
    while (b > 0x7fn) {
      this.buf[this.pos++] = Number(b & 0x7fn) | 0x80;
      b >>= 7n;
    }
    this.buf[this.pos++] = Number(b);
  }

  private tag(field: number, wire: 0 | 1 | 2 | 5): void {
    this.varint(field * 8 + wire);
  }

  private flush(): void {
    if (this.pos === 0) return;
    this.parts.push(this.buf.slice(0, this.pos));
    this.length += this.pos;
    this.pos = 0;
  }

  int(field: number, v: number | bigint): this {
    this.tag(field, 0);
    this.varint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, 5);
    this.ensure(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).setFloat32(0, v, true);
    this.pos += 4;
    return this;
  }

  /** Packed repeated int64. */
  ints(field: number, values: readonly (number | bigint)[]): this {
    if (values.length === 0) return this;
    const inner = new Message();
    for (const v of values) inner.varint(v);
    return this.message(field, inner);
  }

  /** Packed repeated float. */
  floats(field: number, values: readonly number[]): this {
    if (values.length === 0) return this;
    return this.bytes(field, new Uint8Array(Float32Array.from(values).buffer));
  }

  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  bytes(field: number, data: Uint8Array): this {
    this.tag(field, 2);
    this.varint(data.byteLength);
    if (data.byteLength <= 1024) {
      this.ensure(data.byteLength);
      this.buf.set(data, this.pos);
      this.pos += data.byteLength;
    } else {
      this.flush();
      this.parts.push(data);
      this.length += data.byteLength;
    }
    return this;
  }

  message(field: number, m: Message): this {
    m.flush();
    this.tag(field, 2);
    this.varint(m.length);
    this.flush();
    this.parts.push(...m.parts);
    this.length += m.length;
    return this;
  }

  finish(): Uint8Array {
    this.flush();
    if (this.parts.length === 1) return this.parts[0]!;
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const p of this.parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }
}

/** A dimension: a fixed size or a symbolic name (e.g. 'batch'). */
export type Dim = number | string;

export interface TensorProto {
  name: string;
  dataType: DataTypeCode;
  dims: readonly number[];
  /** little-endian element bytes */
  raw: Uint8Array;
  /** when set, the bytes live in a separate file (ONNX external data) instead of the model */
  external?: { location: string; offset: number; length: number };
}

export interface ValueInfo {
  name: string;
  elemType: DataTypeCode;
  shape?: readonly Dim[];
}

export type AttributeValue = number | string | readonly number[] | readonly string[] | TensorProto | { float: number } | { floats: readonly number[] };

export interface NodeProto {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  name?: string;
  domain?: string;
  attributes?: Record<string, AttributeValue>;
}

export interface GraphProto {
  name: string;
  nodes: readonly NodeProto[];
  initializers: readonly TensorProto[];
  inputs: readonly ValueInfo[];
  outputs: readonly ValueInfo[];
}

export interface ModelProto {
  graph: GraphProto;
  opsets: readonly { domain: string; version: number }[];
  producer?: string;
  docString?: string;
  metadata?: Record<string, string>;
}

const IR_VERSION = 9;

function tensorMessage(t: TensorProto): Message {
  const m = new Message();
  for (const d of t.dims) m.int(1, d);
  m.int(2, t.dataType);
  m.string(8, t.name);
  if (t.external) {
    const entry = (k: string, v: string) => new Message().string(1, k).string(2, v);
    m.message(13, entry('location', t.external.location));
    m.message(13, entry('offset', String(t.external.offset)));
    m.message(13, entry('length', String(t.external.length)));
    m.int(14, 1); // DataLocation.EXTERNAL
  } else {
    m.bytes(9, t.raw);
  }
  return m;
}

function valueInfoMessage(v: ValueInfo): Message {
  const tensorType = new Message().int(1, v.elemType);
  if (v.shape) {
    const shape = new Message();
    for (const d of v.shape) shape.message(1, typeof d === 'number' ? new Message().int(1, d) : new Message().string(2, d));
    tensorType.message(2, shape);
  }
  return new Message().string(1, v.name).message(2, new Message().message(1, tensorType));
}

// AttributeProto.AttributeType
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

function attributeMessage(name: string, value: AttributeValue): Message {
  const m = new Message().string(1, name);
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new Error(`attribute ${name}: ${value} is not an integer; pass {float: x} for floats`);
    return m.int(3, value).int(20, ATTR.INT);
  }
  if (typeof value === 'string') return m.string(4, value).int(20, ATTR.STRING);
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'string')) {
      for (const s of value as string[]) m.string(9, s);
      return m.int(20, ATTR.STRINGS);
    }
    // ints are not packed in AttributeProto's canonical encoding; both are accepted by parsers
    for (const v of value as number[]) m.int(8, v);
    return m.int(20, ATTR.INTS);
  }
  if ('float' in (value as object)) return m.float(2, (value as { float: number }).float).int(20, ATTR.FLOAT);
  if ('floats' in (value as object)) {
    for (const f of (value as { floats: readonly number[] }).floats) m.float(7, f);
    return m.int(20, ATTR.FLOATS);
  }
  return m.message(5, tensorMessage(value as TensorProto)).int(20, ATTR.TENSOR);
}

function nodeMessage(n: NodeProto): Message {
  const m = new Message();
  for (const i of n.inputs) m.string(1, i);
  for (const o of n.outputs) m.string(2, o);
  if (n.name) m.string(3, n.name);
  m.string(4, n.opType);
  for (const [k, v] of Object.entries(n.attributes ?? {})) m.message(5, attributeMessage(k, v));
  if (n.domain) m.string(7, n.domain);
  return m;
}

/** Encodes a model as ONNX protobuf bytes. */
export function encodeModel(model: ModelProto): Uint8Array {
  const g = new Message();
  for (const n of model.graph.nodes) g.message(1, nodeMessage(n));
  g.string(2, model.graph.name);
  for (const t of model.graph.initializers) g.message(5, tensorMessage(t));
  for (const v of model.graph.inputs) g.message(11, valueInfoMessage(v));
  for (const v of model.graph.outputs) g.message(12, valueInfoMessage(v));

  const m = new Message().int(1, IR_VERSION);
  m.string(2, model.producer ?? 'loupe');
  if (model.docString) m.string(6, model.docString);
  m.message(7, g);
  for (const o of model.opsets) m.message(8, new Message().string(1, o.domain).int(2, o.version));
  for (const [k, v] of Object.entries(model.metadata ?? {})) m.message(14, new Message().string(1, k).string(2, v));
  return m.finish();
}
