/**
 * `loupe forward`: one forward pass of a model folder on given token ids (or
 * text), writing the logits and each requested hook value, shape [1, T, ...],
 * to a safetensors file under the hook's own name.
 */
import { parseArgs } from 'node:util';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { loadModel } from '../../models/model.ts';
import { MODEL_DTYPES, type ModelDtype } from '../../models/quantize.ts';
import { writeSafetensors, type TensorToWrite } from '../../models/safetensors.ts';
import { loadTokenizer } from '../../models/tokenizer.ts';
import { parseIntList, UsageError, type Command } from './args.ts';

export const command: Command = {
  usage: 'forward --model DIR (--ids 1,2,3 | --text "...") [--dtype fp32|fp16|q8|q4] [--hooks name,name] [--no-logits] --out FILE.safetensors',
  async run(args) {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        options: {
          model: { type: 'string' },
          ids: { type: 'string' },
          text: { type: 'string' },
          dtype: { type: 'string', default: 'fp32' },
          hooks: { type: 'string' },
          'no-logits': { type: 'boolean', default: false },
          out: { type: 'string' },
        },
        strict: true,
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (!values.model) throw new UsageError('--model DIR is required (a folder with config.json and model.safetensors)');
    if (!values.out) throw new UsageError('--out FILE.safetensors is required');
    if ((values.ids === undefined) === (values.text === undefined)) throw new UsageError('give exactly one of --ids 1,2,3 or --text "..."');
    if (!(MODEL_DTYPES as readonly string[]).includes(values.dtype!)) throw new UsageError(`--dtype: "${values.dtype}" is not one of ${MODEL_DTYPES.join(', ')}`);
    const dir = path.resolve(values.model);
    const st = await stat(dir).catch(() => null);
    if (!st?.isDirectory()) throw new UsageError(`--model: ${dir} is not a folder`);
    const hooks = values.hooks ? values.hooks.split(',').map((h) => h.trim()).filter(Boolean) : [];
    const outputs = [...(values['no-logits'] ? [] : ['logits']), ...hooks];
    if (outputs.length === 0) throw new UsageError('nothing to write: --no-logits and no --hooks');

    let ids: number[];
    if (values.ids !== undefined) ids = parseIntList('--ids', values.ids);
    else ids = Array.from((await loadTokenizer(dir)).encode(values.text!));
    if (ids.length === 0) throw new UsageError('no tokens to run (empty --ids or --text)');

    const model = await loadModel(dir, { dtype: values.dtype as ModelDtype });
    try {
      const { vocabSize, contextLength } = model.spec;
      const bad = ids.find((i) => i >= vocabSize);
      if (bad !== undefined) throw new UsageError(`--ids: ${bad} is not below the vocabulary size ${vocabSize}`);
      if (ids.length > contextLength) throw new UsageError(`${ids.length} tokens exceed the model's context length ${contextLength}`);
      const known = new Set(model.hookPoints.map((h) => h.name));
      const unknown = hooks.filter((h) => !known.has(h));
      if (unknown.length) throw new UsageError(`--hooks: unknown hook point${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (this model has e.g. blocks.0.hook_resid_post … blocks.${model.spec.nLayers - 1}.hook_resid_post, blocks.L.attn.hook_pattern, blocks.L.mlp.hook_post, ln_final.hook_normalized)`);
      const started = performance.now();
      const result = await model.forward(BigInt64Array.from(ids, BigInt), [1, ids.length], outputs);
      const ms = performance.now() - started;
      const tensors: Record<string, TensorToWrite> = {};
      for (const o of outputs) tensors[o] = { dtype: 'F32', shape: result[o]!.dims, data: result[o]!.data };
      const out = path.resolve(values.out);
      await writeSafetensors(out, tensors, { model: dir, dtype: model.dtype, input_ids: ids.join(',') });
      console.log(JSON.stringify({ out, tokens: ids.length, dtype: model.dtype, ms: Math.round(ms * 10) / 10, tensors: Object.fromEntries(outputs.map((o) => [o, result[o]!.dims])) }));
    } finally {
      await model.close();
    }
  },
};
