/**
 * `loupe train`: SAEs on an activation store (a folder written by `loupe
 * extract` or an `activations.extract` job), with no server. One hook point
 * writes its SAE to --out (SAELens layout: cfg.json, sae_weights.safetensors,
 * and checkpoints/); several (`--hook a,b`) train in one pass over the data,
 * each into --out/<hook>/. Run the same command again on the same --out to
 * resume from the checkpoints (to the same weights as an uninterrupted run).
 * Ctrl-C writes checkpoints and exits 130.
 *
 * stdout: JSON lines — `{"type":"metrics","hook",step,tokens,loss,mse,l1,l0,
 * explainedVariance,deadFraction,denseFraction,lr,l1Coefficient,
 * tokensPerSecond}` every --metrics-every steps, `{"type":"eval","hook",step,
 * density}` every --eval-every steps, and `{"type":"done",outcome,steps,
 * resumedAt,hooks}` at the end. Progress goes to stderr.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { hookDirName, readManifest } from '../../models/activations/store.ts';
import { trainConfigInputSchema, type TrainConfigInput } from '../../models/contracts/trainings.ts';
import { checkAgainstStore, resolveTrainConfig, toTrainConfig } from '../../models/sae/config.ts';
import { SettingsError } from '../../models/settings-error.ts';
import { trainSaes, type StopRequest, type TrainProgress } from '../../models/sae/train.ts';
import { UsageError, type Command } from './args.ts';

/** Option → config field, and how its value is read. */
const OPTIONS = {
  arch: ['architecture', 'string'],
  'd-sae': ['dSae', 'int'],
  expansion: ['expansionFactor', 'number'],
  k: ['k', 'int'],
  l1: ['l1Coefficient', 'number'],
  'l1-warmup': ['l1WarmupSteps', 'int'],
  threshold: ['initThreshold', 'number'],
  bandwidth: ['bandwidth', 'number'],
  lr: ['lr', 'number'],
  'lr-warmup': ['lrWarmupSteps', 'int'],
  'lr-decay': ['lrDecayFraction', 'number'],
  beta1: ['beta1', 'number'],
  beta2: ['beta2', 'number'],
  batch: ['batchSize', 'int'],
  tokens: ['totalTokens', 'int'],
  'b-dec-init': ['bDecInit', 'string'],
  'dead-window': ['deadFeatureWindow', 'int'],
  'dense-threshold': ['denseThreshold', 'number'],
  seed: ['seed', 'int'],
  'metrics-every': ['metricsEvery', 'int'],
  'checkpoint-every': ['checkpointEvery', 'int'],
  'eval-every': ['evalEvery', 'int'],
  'mixing-shards': ['mixingShards', 'int'],
} as const satisfies Record<string, readonly [keyof TrainConfigInput, 'string' | 'int' | 'number']>;

const OPTION_OF: Record<string, string> = Object.fromEntries(Object.entries(OPTIONS).map(([opt, [field]]) => [field, `--${opt}`]));
OPTION_OF.normalizeInputs = '--no-normalize';
OPTION_OF.normalizeDecoder = '--normalize-decoder';

/** The option behind a config field (`config.k` → `--k`), for messages. */
function optionOf(field: string): string {
  const name = field.replace(/^config\.?/, '');
  return OPTION_OF[name] ?? (name || 'options');
}

const num = (n: number) => n.toLocaleString('en-US');

export const command: Command = {
  usage:
    'train --activations DIR --hook NAME[,NAME] --out DIR [--arch relu|topk|batchtopk|jumprelu] [--k 32] [--d-sae N | --expansion 8] [--l1 5] [--l1-warmup N] [--lr 4e-4] [--lr-warmup N] [--lr-decay 0.2] [--beta1 0.9] [--beta2 0.999] [--batch 1024] [--tokens N] [--no-normalize] [--b-dec-init mean|geometric_median|zeros] [--normalize-decoder] [--dead-window N] [--dense-threshold 0.1] [--seed 42] [--metrics-every 10] [--checkpoint-every 500] [--eval-every 500] [--mixing-shards 4] [--threshold 0.001] [--bandwidth 0.001]',
  async run(args) {
    let values;
    try {
      ({ values } = parseArgs({
        args,
        options: {
          activations: { type: 'string' },
          hook: { type: 'string' },
          out: { type: 'string' },
          'no-normalize': { type: 'boolean', default: false },
          'normalize-decoder': { type: 'boolean', default: false },
          ...Object.fromEntries(Object.keys(OPTIONS).map((k) => [k, { type: 'string' as const }])),
        },
        strict: true,
        allowPositionals: false,
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (!values.activations) throw new UsageError('--activations DIR is required (an activation store: manifest.json and shards)');
    const acts = path.resolve(values.activations as string);
    if (!(await stat(acts).catch(() => null))?.isDirectory()) throw new UsageError(`--activations: ${acts} is not a folder`);
    if (!values.out) throw new UsageError('--out DIR is required (the SAE folder; one with checkpoints is resumed)');
    if (!values.hook) throw new UsageError('--hook is required (e.g. --hook blocks.3.hook_resid_post)');
    const hooks = (values.hook as string).split(',').map((h) => h.trim()).filter(Boolean);
    if (new Set(hooks).size !== hooks.length) throw new UsageError('--hook: a hook point is listed twice');

    // options → config input, validated by the API's own schema
    const input: Record<string, unknown> = {};
    for (const [opt, [field, kind]] of Object.entries(OPTIONS)) {
      const raw = (values as Record<string, unknown>)[opt] as string | undefined;
      if (raw === undefined) continue;
      const n = Number(raw.replace(/_/g, ''));
      if (kind !== 'string' && (raw.trim() === '' || !Number.isFinite(n))) throw new UsageError(`--${opt}: "${raw}" is not a number`);
      input[field] = kind === 'string' ? raw : n;
    }
    if (values['no-normalize']) input.normalizeInputs = false;
    if (values['normalize-decoder']) input.normalizeDecoder = true;
    const parsed = trainConfigInputSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new UsageError(`${optionOf(issue.path.join('.'))}: ${issue.message}`);
    }

    const manifest = await readManifest(acts);
    if (!manifest) throw new UsageError(`--activations: ${acts} has no manifest.json`);
    const stored = hooks.map((hook) => {
      const h = manifest.hooks[hook];
      if (!h) throw new UsageError(`--hook: ${hook} is not in ${acts} (it has ${Object.keys(manifest.hooks).join(', ')})`);
      return { hook, d: h.d, rows: h.rows, shards: h.shards.length };
    });
    const config = resolveTrainConfig([parsed.data], Math.min(...stored.map((h) => h.rows)));
    try {
      checkAgainstStore(config, stored);
    } catch (err) {
      if (err instanceof SettingsError) throw new UsageError(`${optionOf(err.field)}: ${err.reason}`);
      throw err;
    }
    const out = path.resolve(values.out as string);
    const targets = hooks.map((hook) => ({ hook, out: hooks.length === 1 ? out : path.join(out, hookDirName(hook)) }));

    let request: StopRequest | null = null;
    const onSignal = (sig: string) => {
      if (!request) console.error(`train: ${sig}: writing checkpoints…`);
      request = 'pause';
    };
    const onInt = () => onSignal('SIGINT');
    const onTerm = () => onSignal('SIGTERM');
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
    let lastLine = 0;
    let last: TrainProgress | undefined;
    let paused = false;
    const line = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`);
    try {
      const result = await trainSaes({
        activations: acts,
        hooks: targets,
        config: toTrainConfig(config),
        shouldStop: () => request,
        onProgress: (p) => {
          last = p;
          const now = performance.now();
          if (now - lastLine < 1000 && p.step !== p.totalSteps) return;
          lastLine = now;
          const eta = p.etaSeconds === null ? '' : `, ETA ${p.etaSeconds} s`;
          console.error(`train: step ${num(p.step)} / ${num(p.totalSteps)} (${num(p.tokens)} tokens), ${num(p.tokensPerSecond)} tokens/s${eta}`);
        },
        onMetrics: (m) => line({ type: 'metrics', ...m }),
        evaluate: (e) => line({ type: 'eval', hook: e.hook, step: e.step, tokens: e.tokens, density: e.density }),
      });
      if (result.resumedAt > 0) console.error(`train: resumed at step ${num(result.resumedAt)} of ${num(result.totalSteps)}`);
      line({ type: 'done', outcome: result.outcome, steps: result.steps, totalSteps: result.totalSteps, resumedAt: result.resumedAt, hooks: result.hooks.map((h) => ({ hook: h.hook, out: h.out, dIn: h.dIn, dSae: h.dSae, checkpointStep: h.checkpointStep })) });
      if (result.outcome === 'paused') {
        console.error(`train: stopped at step ${num(last?.step ?? result.steps)} with checkpoints; run the same command again to resume`);
        paused = true;
      }
    } finally {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
    }
    // 130 as a shell reports Ctrl-C; the files are closed by now (stdout and stderr are synchronous on Linux pipes and files)
    if (paused) process.exit(130);
  },
};
