/**
 * Pure helpers of the new-training form: which fields an architecture uses,
 * the defaults the API applies, the form as typed text, and the request and
 * template bodies it makes. Kept apart from the page so they are tested
 * without a browser.
 */
import {
  SAE_ARCHITECTURE_NAMES,
  TRAIN_DEFAULTS,
  TRAINING_LIMITS,
  type CreateTraining,
  type TrainConfigInput,
  type TrainConfigResolved,
  type TrainingTemplateSettings,
} from '../../models/contracts/trainings.ts';

export type SaeArchitectureName = (typeof SAE_ARCHITECTURE_NAMES)[number];

/** TopK and BatchTopK choose k features a token (on average for BatchTopK). */
export function usesK(a: SaeArchitectureName): boolean {
  return a === 'topk' || a === 'batchtopk';
}

/** ReLU (L1 penalty) and JumpReLU (L0 penalty) have a sparsity coefficient and its warm-up. */
export function usesSparsityPenalty(a: SaeArchitectureName): boolean {
  return a === 'relu' || a === 'jumprelu';
}

/** JumpReLU's initial threshold and pseudo-derivative bandwidth. */
export function usesThreshold(a: SaeArchitectureName): boolean {
  return a === 'jumprelu';
}

/**
 * What the API applies to a config field left out: the trainer's defaults
 * (models/contracts/trainings.ts) and the CE-loss evaluation windows.
 * totalTokens has no fixed default: one pass over the stored rows.
 */
export const TRAIN_FORM_DEFAULTS = { ...TRAIN_DEFAULTS, evalWindows: TRAINING_LIMITS.DEFAULT_EVAL_WINDOWS };

/** The numeric config fields the form holds as typed text. */
export const NUMBER_FIELDS = [
  'k',
  'l1Coefficient',
  'l1WarmupSteps',
  'initThreshold',
  'bandwidth',
  'lr',
  'lrWarmupSteps',
  'lrDecayFraction',
  'beta1',
  'beta2',
  'batchSize',
  'totalTokens',
  'deadFeatureWindow',
  'denseThreshold',
  'seed',
  'metricsEvery',
  'checkpointEvery',
  'evalEvery',
  'evalWindows',
  'mixingShards',
] as const;
export type NumberField = (typeof NUMBER_FIELDS)[number];

/** What the new-training form holds: numbers as the text the user typed. */
export type TrainingForm = {
  extractionId: string;
  hookPoints: string[];
  /** empty: the server's name (architecture, size, hooks) */
  name: string;
  /** what its SAEs are for (their family with the model and hook); empty: `default` */
  purpose: string;
  architecture: SaeArchitectureName;
  sizeMode: 'expansionFactor' | 'dSae';
  dSae: string;
  expansionFactor: string;
  normalizeInputs: boolean;
  bDecInit: TrainConfigResolved['bDecInit'];
  normalizeDecoder: boolean;
} & Record<NumberField, string>;

/** The form at the API's defaults (no extraction chosen, total tokens: one pass). */
export function initialTrainingForm(): TrainingForm {
  const d = TRAIN_FORM_DEFAULTS;
  const text = Object.fromEntries(NUMBER_FIELDS.map((k) => [k, k === 'totalTokens' ? '' : String(d[k])])) as Record<NumberField, string>;
  return {
    extractionId: '',
    hookPoints: [],
    name: '',
    purpose: '',
    architecture: d.architecture,
    sizeMode: 'expansionFactor',
    dSae: '',
    expansionFactor: String(d.expansionFactor),
    normalizeInputs: d.normalizeInputs,
    bDecInit: d.bDecInit,
    normalizeDecoder: d.normalizeDecoder,
    ...text,
  };
}

/**
 * A typed number (`4e-4`, `1,024`, `0.2`), undefined for an empty field, or
 * the text itself when it is not a number: the server's validation then names
 * the field with its message, as for any other bad value.
 */
export function parseNumber(s: string): number | undefined {
  const t = s.trim().replace(/[\s,_]/g, '');
  if (t === '') return undefined;
  return /^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(t) ? Number(t) : (t as unknown as number);
}

/** The config of the form: the fields its architecture uses, the size it was given, every typed number. */
export function formConfig(f: TrainingForm): TrainConfigInput {
  const out: TrainConfigInput = {
    architecture: f.architecture,
    normalizeInputs: f.normalizeInputs,
    bDecInit: f.bDecInit,
    normalizeDecoder: f.normalizeDecoder,
  };
  const size = parseNumber(f.sizeMode === 'dSae' ? f.dSae : f.expansionFactor);
  if (size !== undefined) out[f.sizeMode] = size;
  const skip = new Set<NumberField>([
    ...(usesK(f.architecture) ? [] : (['k'] as const)),
    ...(usesSparsityPenalty(f.architecture) ? [] : (['l1Coefficient', 'l1WarmupSteps'] as const)),
    ...(usesThreshold(f.architecture) ? [] : (['initThreshold', 'bandwidth'] as const)),
  ]);
  for (const k of NUMBER_FIELDS) {
    if (skip.has(k)) continue;
    const n = parseNumber(f[k]);
    if (n !== undefined) out[k] = n;
  }
  return out;
}

/** The `POST /api/trainings` body of the form. */
export function formBody(f: TrainingForm): CreateTraining {
  const name = f.name.trim();
  const purpose = f.purpose.trim();
  return { extractionId: f.extractionId, hookPoints: f.hookPoints, config: formConfig(f), ...(name ? { name } : {}), ...(purpose ? { purpose } : {}) };
}

/** What a template saved from the form holds: its config, and its hook points when some are chosen. */
export function formTemplate(f: TrainingForm): TrainingTemplateSettings {
  return { config: formConfig(f), ...(f.hookPoints.length ? { hookPoints: f.hookPoints } : {}) };
}

/**
 * The form with a template applied: its config fields, and the defaults for
 * those it leaves out (as the server resolves a template); its hook points
 * when it has some (the extraction and the name stay).
 */
export function applyTrainingTemplate(f: TrainingForm, t: TrainingTemplateSettings): TrainingForm {
  const base = initialTrainingForm();
  const c = t.config ?? {};
  const out: TrainingForm = { ...base, extractionId: f.extractionId, name: f.name, purpose: f.purpose, hookPoints: t.hookPoints ?? f.hookPoints };
  for (const k of NUMBER_FIELDS) if (c[k] !== undefined) out[k] = String(c[k]);
  if (c.architecture) out.architecture = c.architecture;
  if (c.normalizeInputs !== undefined) out.normalizeInputs = c.normalizeInputs;
  if (c.bDecInit) out.bDecInit = c.bDecInit;
  if (c.normalizeDecoder !== undefined) out.normalizeDecoder = c.normalizeDecoder;
  if (c.dSae != null) Object.assign(out, { sizeMode: 'dSae', dSae: String(c.dSae) });
  else if (c.expansionFactor != null) Object.assign(out, { sizeMode: 'expansionFactor', expansionFactor: String(c.expansionFactor) });
  return out;
}

/** The errors of a field's path as the server names it (`config.k`, `hookPoints.1`) or of a template (`settings.config.k`). */
export function errorFor(errors: Record<string, string>, field: string): string | undefined {
  const hits = Object.entries(errors)
    .filter(([k]) => k === field || k === `settings.${field}` || (field === 'hookPoints' && /^(settings\.)?hookPoints(\.\d+)?$/.test(k)))
    .map(([, v]) => v);
  return hits.length ? hits.join('; ') : undefined;
}

/** d_sae a form gives for an input width, or undefined when the size is not a number yet. */
export function formDSae(f: TrainingForm, dIn: number): number | undefined {
  const n = parseNumber(f.sizeMode === 'dSae' ? f.dSae : f.expansionFactor);
  if (typeof n !== 'number' || !Number.isFinite(n)) return undefined;
  return f.sizeMode === 'dSae' ? n : Math.round(dIn * n);
}
