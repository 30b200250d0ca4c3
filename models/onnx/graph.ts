/**
 * A small builder of ONNX graphs: values are names, nodes are appended in
 * topological order, weights become initializers. Builders of architectures
 * write the forward pass with it; {@link Graph.toModel} keeps only what the
 * requested outputs need, so a graph that stops at a hook point runs no later
 * block.
 */
import { DataType, encodeModel, type AttributeValue, type DataTypeCode, type Dim, type NodeProto, type TensorProto, type ValueInfo } from './proto.ts';

/** A value in the graph, by name. */
export type Value = string;

export const OPSET = 17;
export const MS_DOMAIN = 'com.microsoft';

type Typed = Float32Array | Uint16Array | Int8Array | Uint8Array | BigInt64Array | Int32Array;

const ELEM_BYTES: Partial<Record<DataTypeCode, number>> = {
  [DataType.FLOAT]: 4,
  [DataType.FLOAT16]: 2,
  [DataType.INT64]: 8,
  [DataType.INT32]: 4,
  [DataType.INT8]: 1,
  [DataType.UINT8]: 1,
  [DataType.BOOL]: 1,
};

function bytesOf(a: Typed): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export interface ModelOptions {
  outputs?: readonly { value: Value; elemType?: DataTypeCode; shape?: readonly Dim[] }[];
  metadata?: Record<string, string>;
  docString?: string;
}

/** Weights smaller than this stay inside the model file. */
const EXTERNAL_MIN_BYTES = 1024;
const EXTERNAL_ALIGN = 4096;

export class Graph {
  private readonly nodes: NodeProto[] = [];
  private readonly initializers = new Map<string, TensorProto>();
  private readonly inputs: ValueInfo[] = [];
  private readonly outputs: ValueInfo[] = [];
  private readonly constants = new Map<string, Value>();
  private counter = 0;
  private usesMsDomain = false;
  /** value → index of the node computing it */
  private readonly producer = new Map<Value, number>();
  /** values renamed by {@link hook}: old name → hook name */
  private readonly renamed = new Map<Value, Value>();
  /** values with generated names (a hook may rename them; never a named one) */
  private readonly anonymous = new Set<Value>();
  /** values some node reads */
  private readonly consumed = new Set<Value>();

  constructor(readonly name: string) {}

  private fresh(hint: string): Value {
    return `${hint}_${++this.counter}`;
  }

  input(name: string, elemType: DataTypeCode, shape: readonly Dim[]): Value {
    this.inputs.push({ name, elemType, shape });
    return name;
  }

  /** Declares a graph output (a value computed by some node). */
  output(value: Value, elemType: DataTypeCode = DataType.FLOAT, shape?: readonly Dim[]): void {
    value = this.renamed.get(value) ?? value;
    if (!this.outputs.some((o) => o.name === value)) this.outputs.push({ name: value, elemType, shape });
  }

  /** Adds a weight; returns its value name. */
  initializer(name: string, dataType: DataTypeCode, dims: readonly number[], data: Typed): Value {
    if (this.initializers.has(name)) throw new Error(`duplicate initializer ${name}`);
    const n = dims.reduce((a, b) => a * b, 1);
    const elemBytes = ELEM_BYTES[dataType];
    if (elemBytes === undefined || data.byteLength !== n * elemBytes) {
      throw new Error(`initializer ${name}: ${data.byteLength} bytes for data type ${dataType} and dims [${dims.join(', ')}]`);
    }
    this.initializers.set(name, { name, dataType, dims: [...dims], raw: bytesOf(data) });
    return name;
  }

  /** A float32 constant (cached by value). */
  constF(values: number | readonly number[], dims?: readonly number[]): Value {
    const arr = typeof values === 'number' ? [values] : values;
    const shape = dims ?? (typeof values === 'number' ? [] : [arr.length]);
    const key = `f${shape.join('x')}:${arr.join(',')}`;
    let v = this.constants.get(key);
    if (!v) {
      v = this.initializer(this.fresh('const_f'), DataType.FLOAT, shape, Float32Array.from(arr));
      this.constants.set(key, v);
    }
    return v;
  }

  /** An int64 constant (cached by value). */
  constI(values: number | readonly number[], dims?: readonly number[]): Value {
    const arr = typeof values === 'number' ? [values] : values;
    const shape = dims ?? (typeof values === 'number' ? [] : [arr.length]);
    const key = `i${shape.join('x')}:${arr.join(',')}`;
    let v = this.constants.get(key);
    if (!v) {
      v = this.initializer(this.fresh('const_i'), DataType.INT64, shape, BigInt64Array.from(arr.map((x) => BigInt(x))));
      this.constants.set(key, v);
    }
    return v;
  }

  /** Appends a node; returns its outputs. Empty-string inputs are optional inputs left out. */
  node(opType: string, inputs: readonly Value[], attributes?: Record<string, AttributeValue>, opts: { outputs?: number | readonly string[]; domain?: string } = {}): Value[] {
    const named = typeof opts.outputs === 'object';
    const outs = named ? [...(opts.outputs as readonly string[])] : Array.from({ length: (opts.outputs as number | undefined) ?? 1 }, () => this.fresh(opType.toLowerCase()));
    if (!named) for (const o of outs) this.anonymous.add(o);
    if (opts.domain === MS_DOMAIN) this.usesMsDomain = true;
    inputs = inputs.map((i) => this.renamed.get(i) ?? i);
    for (const i of inputs) if (i) this.consumed.add(i);
    for (const o of outs) this.producer.set(o, this.nodes.length);
    this.nodes.push({ opType, inputs, outputs: outs, attributes, domain: opts.domain, name: outs[0] });
    return outs;
  }

  op(opType: string, inputs: readonly Value[], attributes?: Record<string, AttributeValue>, domain?: string): Value {
    return this.node(opType, inputs, attributes, { domain })[0]!;
  }

  /** Gives `value` a fixed name (a hook point) through an Identity node. */
  hook(value: Value, name: string): Value {
    // Rename the producing node's output when nothing reads it yet: an Identity
    // node would copy the tensor on every run.
    value = this.renamed.get(value) ?? value;
    const producer = this.producer.get(value);
    if (producer !== undefined && this.anonymous.has(value) && !this.consumed.has(value) && !this.outputs.some((o) => o.name === value)) {
      const n = this.nodes[producer]!;
      (n.outputs as string[])[n.outputs.indexOf(value)] = name;
      this.producer.delete(value);
      this.producer.set(name, producer);
      this.renamed.set(value, name);
      this.anonymous.delete(value);
      return name;
    }
    return this.node('Identity', [value], undefined, { outputs: [name] })[0]!;
  }

  add(a: Value, b: Value): Value { return this.op('Add', [a, b]); }
  sub(a: Value, b: Value): Value { return this.op('Sub', [a, b]); }
  mul(a: Value, b: Value): Value { return this.op('Mul', [a, b]); }
  div(a: Value, b: Value): Value { return this.op('Div', [a, b]); }
  matmul(a: Value, b: Value): Value { return this.op('MatMul', [a, b]); }
  reshape(x: Value, shape: readonly number[]): Value { return this.op('Reshape', [x, this.constI(shape)]); }
  transpose(x: Value, perm: readonly number[]): Value { return this.op('Transpose', [x], { perm }); }
  unsqueeze(x: Value, axes: readonly number[]): Value { return this.op('Unsqueeze', [x, this.constI(axes)]); }
  cast(x: Value, to: DataTypeCode): Value { return this.op('Cast', [x], { to }); }
  /** x[..., start:end] along `axis`. */
  slice(x: Value, axis: number, start: number, end: number): Value {
    return this.op('Slice', [x, this.constI([start]), this.constI([end]), this.constI([axis])]);
  }
  concat(xs: readonly Value[], axis: number): Value { return this.op('Concat', xs, { axis }); }
  scale(x: Value, s: number): Value { return s === 1 ? x : this.mul(x, this.constF(s)); }

  /** Number of graph nodes (for tests and reports). */
  get nodeCount(): number {
    return this.nodes.length;
  }

  /**
   * Serialises the graph with the given outputs (values already declared with
   * {@link output} are kept too), dropping every node and initializer that
   * no output needs.
   */
  toModel(opts: ModelOptions = {}): Uint8Array {
    return this.serialise(opts).model;
  }

  /**
   * Serialises the graph with its weights in a separate data file (ONNX
   * external data, 4 KiB-aligned so that it can be mapped), for models past
   * protobuf's 2 GiB limit. `location` is the data file's name relative to the
   * model file. Returns the model bytes and the data file's chunks in order.
   */
  toModelWithExternalData(location: string, opts: ModelOptions = {}): { model: Uint8Array; data: { offset: number; bytes: Uint8Array }[]; dataBytes: number } {
    return this.serialise(opts, location) as { model: Uint8Array; data: { offset: number; bytes: Uint8Array }[]; dataBytes: number };
  }

  /** Bytes of every initializer (the weights), for choosing between the two forms. */
  get weightBytes(): number {
    let n = 0;
    for (const t of this.initializers.values()) n += t.raw.byteLength;
    return n;
  }

  private serialise(opts: ModelOptions, external?: string): { model: Uint8Array; data?: { offset: number; bytes: Uint8Array }[]; dataBytes?: number } {
    const outputs = [...this.outputs];
    for (const o of opts.outputs ?? []) {
      if (!outputs.some((x) => x.name === o.value)) outputs.push({ name: o.value, elemType: o.elemType ?? DataType.FLOAT, shape: o.shape });
    }
    if (outputs.length === 0) throw new Error('a graph needs at least one output');
    const producers = new Map<string, number>();
    this.nodes.forEach((n, i) => n.outputs.forEach((o) => producers.set(o, i)));
    const needed = new Set<string>(outputs.map((o) => o.name));
    const keep = new Uint8Array(this.nodes.length);
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const n = this.nodes[i]!;
      if (!n.outputs.some((o) => needed.has(o))) continue;
      keep[i] = 1;
      for (const inp of n.inputs) if (inp) needed.add(inp);
    }
    for (const o of outputs) {
      if (!producers.has(o.name) && !this.inputs.some((i) => i.name === o.name)) throw new Error(`graph output ${o.name} is not computed by the graph`);
    }
    const nodes = this.nodes.filter((_, i) => keep[i]);
    let initializers = [...this.initializers.values()].filter((t) => needed.has(t.name));
    let data: { offset: number; bytes: Uint8Array }[] | undefined;
    let dataBytes = 0;
    if (external !== undefined) {
      data = [];
      initializers = initializers.map((t) => {
        if (t.raw.byteLength < EXTERNAL_MIN_BYTES) return t;
        const offset = Math.ceil(dataBytes / EXTERNAL_ALIGN) * EXTERNAL_ALIGN;
        data!.push({ offset, bytes: t.raw });
        dataBytes = offset + t.raw.byteLength;
        return { ...t, raw: new Uint8Array(0), external: { location: external, offset, length: t.raw.byteLength } };
      });
    }
    const inputs = this.inputs.filter((i) => needed.has(i.name));
    const opsets = [{ domain: '', version: OPSET }];
    if (this.usesMsDomain && nodes.some((n) => n.domain === MS_DOMAIN)) opsets.push({ domain: MS_DOMAIN, version: 1 });
    const model = encodeModel({ graph: { name: this.name, nodes, initializers, inputs, outputs }, opsets, metadata: opts.metadata, docString: opts.docString });
    return { model, data, dataBytes };
  }
}
