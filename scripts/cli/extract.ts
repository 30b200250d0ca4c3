/**
 * `loupe extract`: activations of a model folder over a tokenized dataset
 * folder into an activation store (shards per hook + manifest.json), with no
 * server. Run it again with the same options on the same --out to resume: it
 * continues after the last complete shard and writes the same bytes. Ctrl-C
 * stops within a batch and keeps every complete shard. Progress goes to
 * stderr, a JSON summary to stdout.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { hookPoints } from '../../models/architectures/decoder.ts';
import { familyOf } from '../../models/architectures/index.ts';
import { runExtraction, type RunProgress } from '../../models/activations/run.ts';
import { checkAgainstModel, resolveHooks, resolveSettings, rowShape } from '../../models/activations/plan.ts';
import { SettingsError } from '../../models/settings-error.ts';
import { EXTRACTION_LIMITS, STORAGE_DTYPES, type ExtractionSettingsInput } from '../../models/contracts/extractions.ts';
import { readModelConfig } from '../../models/model-files.ts';
import { MODEL_DTYPES, type ModelDtype } from '../../models/quantize.ts';
import { UsageError, type Command } from './args.ts';

/** The option behind each setting, for messages. */
const OPTION: Record<string, string> = {
  hookPoints: '--hooks',
  dtype: '--dtype',
  storage: '--storage',
  contextLength: '--context',
  batchSize: '--batch',
  tokenBudget: '--tokens',
  stride: '--stride',
  keepBos: '--keep-bos',
  prependBos: '--prepend-bos',
  windowsPerShard: '--shard-windows',
  datasetId: '--dataset',
};

function positive(option: string, value: string | undefined, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value.replace(/_/g, ''));
  if (!/^\d[\d_]*$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > max) throw new UsageError(`${option}: "${value}" is not an integer from 1 to ${max}`);
  return n;
}

async function folder(option: string, value: string | undefined, what: string): Promise<string> {
  if (!value) throw new UsageError(`${option} DIR is required (${what})`);
  const dir = path.resolve(value);
  if (!(await stat(dir).catch(() => null))?.isDirectory()) throw new UsageError(`${option}: ${dir} is not a folder`);
  return dir;
}

const num = (n: number) => n.toLocaleString('en-US');

function line(p: RunProgress): string {
  const pct = p.tokensTotal ? ((100 * p.tokensDone) / p.tokensTotal).toFixed(1) : '0';
  const eta = p.etaSeconds === null ? '' : `, ETA ${p.etaSeconds} s`;
  return `extract: ${num(p.tokensDone)} / ${num(p.tokensTotal)} tokens (${pct} %), ${num(p.rows)} rows, ${p.shards} shards, ${num(p.tokensPerSecond)} tokens/s${eta}`;
}

export const command: Command = {
  usage:
    'extract --model DIR --dataset DIR --hooks name,name [--dtype fp32|fp16|q8|q4] [--storage f32|f16] [--context 128] [--batch 8] [--tokens N] [--stride N] [--keep-bos] [--prepend-bos|--no-prepend-bos] [--shard-windows N] --out DIR',
  async run(args) {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        options: {
          model: { type: 'string' },
          dataset: { type: 'string' },
          hooks: { type: 'string' },
          dtype: { type: 'string', default: 'fp32' },
          storage: { type: 'string', default: EXTRACTION_LIMITS.DEFAULT_STORAGE },
          context: { type: 'string' },
          batch: { type: 'string' },
          tokens: { type: 'string' },
          stride: { type: 'string' },
          'keep-bos': { type: 'boolean', default: false },
          'prepend-bos': { type: 'boolean' },
          'no-prepend-bos': { type: 'boolean' },
          'shard-windows': { type: 'string' },
          out: { type: 'string' },
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    const modelDir = await folder('--model', values.model, 'a folder with config.json and model.safetensors');
    const datasetDir = await folder('--dataset', values.dataset, 'a tokenized dataset: tokens.bin, docs.bin, meta.json');
    if (!values.out) throw new UsageError('--out DIR is required (the activation store; an existing one with the same settings is resumed)');
    if (!values.hooks) throw new UsageError('--hooks is required (e.g. --hooks blocks.3.hook_resid_post,blocks.3.mlp.hook_post)');
    if (!(MODEL_DTYPES as readonly string[]).includes(values.dtype!)) throw new UsageError(`--dtype: "${values.dtype}" is not one of ${MODEL_DTYPES.join(', ')}`);
    if (!(STORAGE_DTYPES as readonly string[]).includes(values.storage!)) throw new UsageError(`--storage: "${values.storage}" is not one of ${STORAGE_DTYPES.join(', ')}`);
    if (values['prepend-bos'] && values['no-prepend-bos']) throw new UsageError('--prepend-bos and --no-prepend-bos contradict each other');
    const hooks = values.hooks.split(',').map((h) => h.trim()).filter(Boolean);
    if (new Set(hooks).size !== hooks.length) throw new UsageError('--hooks: a hook point is listed twice');

    const input: ExtractionSettingsInput = {
      dtype: values.dtype as ModelDtype,
      storage: values.storage as 'f32' | 'f16',
      contextLength: positive('--context', values.context, EXTRACTION_LIMITS.MAX_CONTEXT),
      batchSize: positive('--batch', values.batch, EXTRACTION_LIMITS.MAX_BATCH),
      tokenBudget: positive('--tokens', values.tokens, EXTRACTION_LIMITS.MAX_TOKEN_BUDGET),
      stride: positive('--stride', values.stride, EXTRACTION_LIMITS.MAX_CONTEXT),
      keepBos: values['keep-bos'],
      prependBos: values['prepend-bos'] ? true : values['no-prepend-bos'] ? false : undefined,
      windowsPerShard: positive('--shard-windows', values['shard-windows'], 1 << 24),
    };
    const out = path.resolve(values.out);

    const ac = new AbortController();
    const stop = (sig: string) => ac.signal.aborted || ac.abort(new Error(`interrupted by ${sig}`));
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
    let last: RunProgress | undefined;
    let lastLine = 0;
    const started = performance.now();
    try {
      // Hooks and shard size from the config alone, so that mistakes are usage errors before the weights load.
      const config = await readModelConfig(modelDir);
      const spec = familyOf(config).spec(config);
      const resolved = resolveHooks(hookPoints(spec), hooks);
      const settings = resolveSettings(input, { modelDtype: 'fp32', widestRow: Math.max(...resolved.map((h) => rowShape(h).reduce((a, b) => a * b, 1))) });
      checkAgainstModel(settings, spec);
      const result = await runExtraction({
        modelDir,
        datasetDir,
        outDir: out,
        hookPoints: hooks,
        settings,
        signal: ac.signal,
        onProgress: (p) => {
          last = p;
          const now = performance.now();
          if (p.phase === 'extracting' && now - lastLine < 1000) return;
          lastLine = now;
          if (p.phase === 'loading') console.error(`extract: loading ${path.basename(modelDir)} (${settings.dtype}) for ${hooks.length} hook point${hooks.length > 1 ? 's' : ''}`);
          else console.error(line(p));
        },
        onFallback: (m) => console.error(`extract: ${m}`),
      });
      if (result.resumedAt > 0) console.error(`extract: resumed at window ${num(result.resumedAt)} of ${num(result.plan.total)}`);
      const m = result.manifest;
      console.log(
        JSON.stringify({
          out,
          complete: m.complete,
          windows: m.windowsDone,
          tokens: m.windowsDone * result.plan.length,
          resumedAtWindow: result.resumedAt,
          seconds: Math.round((performance.now() - started) / 100) / 10,
          tokensPerSecond: result.progress.tokensPerSecond,
          settings: m.settings,
          hooks: Object.fromEntries(
            Object.values(m.hooks).map((h) => [h.hook, { rowShape: h.rowShape, dtype: h.dtype, rows: h.rows, shards: h.shards.length, meanNorm: result.stats[h.hook]!.meanNorm }]),
          ),
        }),
      );
    } catch (err) {
      if (err instanceof SettingsError) throw new UsageError(`${OPTION[err.field.split('.')[0]!] ?? err.field}: ${err.reason}`);
      if (ac.signal.aborted) {
        const p = last;
        console.error(`extract: stopped${p ? ` at ${num(p.tokensDone)} of ${num(p.tokensTotal)} tokens (${p.shards} complete shards kept)` : ''}; run the same command again to resume`);
        console.log(JSON.stringify({ out, complete: false, interrupted: true, tokens: p?.tokensDone ?? 0, shards: p?.shards ?? 0 }));
        // 130 as a shell reports Ctrl-C; the model and files are closed by now (stdout and stderr are synchronous on Linux pipes and files).
        process.exit(130);
      }
      throw err;
    } finally {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    }
  },
};

