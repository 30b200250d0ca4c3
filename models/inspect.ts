/**
 * What a model folder holds, without loading its weights: the architecture
 * from config.json, exact parameter counts from the safetensors headers, the
 * bytes its weights take at each dtype, and every hook point with its shape.
 * The config is checked against bounds before anything is sized from it, and
 * the weights against the config (models/model-check.ts): a bad model is a
 * ModelFormatError naming the field, file or tensor, never a giant allocation.
 */
import { hookPoints, type HookPoint } from './architectures/decoder.ts';
import { familyOf } from './architectures/index.ts';
import { checkOpenWeights, openModelWeights } from './model-check.ts';
import { readModelConfig } from './model-files.ts';
import { MODEL_DTYPES, weightBytes, type ModelDtype } from './quantize.ts';

export interface ArchitectureInfo {
  modelType: string;
  layers: number;
  dModel: number;
  nHeads: number;
  nKvHeads: number;
  dHead: number;
  dMlp: number;
  vocabSize: number;
  contextLength: number;
  norm: 'layer' | 'rms';
  activation: string;
  positions: 'learned' | 'rope';
  parallelResidual: boolean;
  /** per layer: null for full causal attention, else the sliding window */
  windows: (number | null)[];
  parameters: { total: number; embedding: number; perLayer: number[]; other: number };
  /** bytes of the weights in memory when loaded at each dtype */
  dtypeBytes: Record<ModelDtype, number>;
  /** the dtype the safetensors files store the weights in (F32, F16, BF16): the one most parameters have */
  weightsDtype: string;
  hookPoints: HookPoint[];
}

const EMBEDDING = /(^|\.)(wte|wpe|embed_tokens|embed_positions|embed_in)\.weight$/;
const LAYER = /(^|\.)(h|layers)\.(\d+)\./;

/**
 * The architecture of the model folder `dir` (config.json and safetensors
 * headers; no weight is read).
 * @throws ModelFormatError (config out of bounds, weights that do not match it, a malformed file) or UnsupportedArchitectureError
 */
export async function inspectModel(dir: string): Promise<ArchitectureInfo> {
  const config = await readModelConfig(dir);
  const spec = familyOf(config).spec(config);
  const src = await openModelWeights(dir);
  try {
    // the tensors the architecture reads, with the shapes config.json implies (headers only)
    await checkOpenWeights(src, spec, config);
    const perLayer = new Array<number>(spec.nLayers).fill(0);
    let embedding = 0;
    let other = 0;
    const bytes: Record<ModelDtype, number> = { fp32: 0, fp16: 0, q8: 0, q4: 0 };
    let hasUnembed = false;
    const stored = new Map<string, number>();
    for (const name of src.names()) {
      const shape = src.shape(name);
      const n = shape.reduce((a, b) => a * b, 1);
      stored.set(src.dtypeOf(name), (stored.get(src.dtypeOf(name)) ?? 0) + n);
      const layer = LAYER.exec(name);
      if (EMBEDDING.test(name)) embedding += n;
      else if (layer && Number(layer[3]) < spec.nLayers) perLayer[Number(layer[3])]! += n;
      else other += n;
      if (/(lm_head|embed_out)\.weight$/.test(name)) hasUnembed = true;
      for (const dtype of MODEL_DTYPES) {
        if (shape.length !== 2) bytes[dtype] += n * 4;
        else if (EMBEDDING.test(name) && !/embed_positions|wpe/.test(name)) bytes[dtype] += n * (dtype === 'fp32' ? 4 : 2);
        else if (/embed_positions|wpe/.test(name)) bytes[dtype] += n * 4;
        else bytes[dtype] += weightBytes(dtype, shape[0]!, shape[1]!);
      }
    }
    // a tied unembedding is the embedding itself at fp32/fp16, a quantized copy at q8/q4
    if (!hasUnembed) for (const dtype of ['q8', 'q4'] as const) bytes[dtype] += weightBytes(dtype, spec.vocabSize, spec.dModel);
    return {
      modelType: spec.modelType,
      layers: spec.nLayers,
      dModel: spec.dModel,
      nHeads: spec.nHeads,
      nKvHeads: spec.nKvHeads,
      dHead: spec.dHead,
      dMlp: spec.dMlp,
      vocabSize: spec.vocabSize,
      contextLength: spec.contextLength,
      norm: spec.norm,
      activation: spec.act,
      positions: spec.positions.kind,
      parallelResidual: spec.parallelResidual,
      windows: spec.windows,
      parameters: { total: embedding + other + perLayer.reduce((a, b) => a + b, 0), embedding, perLayer, other },
      dtypeBytes: bytes,
      weightsDtype: [...stored].sort((a, b) => b[1] - a[1])[0]?.[0] ?? 'F32',
      hookPoints: hookPoints(spec),
    };
  } finally {
    await src.close();
  }
}
