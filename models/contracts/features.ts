/**
 * Features of an SAE and their analyses: discoveries (the `features.discover`
 * job and its `discovery/{id}` topic), the feature list and its query, a
 * feature's detail and edits, the three analysis answers (logit lens,
 * correlations, ablation; `features.analyze`), and the LLM settings.
 * Declared once; the server validates with them and builds the OpenAPI
 * document from them, the worker reads the job data, the web app and the CLI
 * parse answers with them.
 *
 * A feature's id in URLs is `{saeId}:{index}` (see {@link featureId}).
 *
 * (No import of topics.ts: topics.ts imports the discovery schema from here.)
 */
import { z } from 'zod';
import { jobDeviceSchema } from './device.ts';

/** Lifecycle of a discovery (the same values as ARTIFACT_STATUSES in topics.ts, without `paused`). */
export const DISCOVERY_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type DiscoveryStatus = (typeof DISCOVERY_STATUSES)[number];

/** Phases of a discovery, in order: the pass over the activations, the pass over the examples' windows, LLM labels (when set up), writing the features. */
export const DISCOVERY_PHASES = ['scan', 'examples', 'labels', 'saving'] as const;
export type DiscoveryPhase = (typeof DISCOVERY_PHASES)[number];

/** Where a feature's label comes from. */
export const LABEL_SOURCES = ['heuristic', 'llm', 'user'] as const;
export type LabelSource = (typeof LABEL_SOURCES)[number];

/** Kinds of heuristic label (models/features/label.ts). */
export const HEURISTIC_KINDS = ['token', 'after', 'none'] as const;

/** Orders of the feature list; a leading `-` is descending. */
export const FEATURE_SORTS = ['frequency', '-frequency', 'score', '-score', 'max', '-max', 'index', '-index'] as const;
export type FeatureSort = (typeof FEATURE_SORTS)[number];

/**
 * The analyses of a feature, as named in URLs and in the cache, `encode` (of tokens by an SAE:
 * `POST /api/saes/{id}/encode`) and `inspector` (the files the browser's inspector of an SAE
 * downloads: `GET /api/saes/{id}/inspector`).
 */
export const ANALYSIS_KINDS = ['logit-lens', 'correlations', 'ablation', 'encode', 'inspector'] as const;
export type AnalysisKind = (typeof ANALYSIS_KINDS)[number];

/**
 * The quantile bands a discovery samples examples from (models/features/quantiles.ts), as fractions of a
 * feature's active tokens ordered by value, [from, to): the quartiles.
 */
export const QUANTILE_BANDS: readonly (readonly [number, number])[] = [
  [0, 0.25],
  [0.25, 0.5],
  [0.5, 0.75],
  [0.75, 1],
];

/** Limits and defaults of the features API. */
export const FEATURE_LIMITS = {
  DEFAULT_TOP_K: 10,
  MAX_TOP_K: 50,
  /** tokens shown before / after an example's peak */
  DEFAULT_LEFT: 16,
  DEFAULT_RIGHT: 4,
  MAX_CONTEXT: 128,
  DEFAULT_PAGE: 50,
  MAX_PAGE: 200,
  /** peak tokens of a list item */
  TOP_TOKENS: 3,
  MAX_LABEL: 200,
  MAX_NOTES: 10_000,
  DEFAULT_LENS_K: 20,
  DEFAULT_CORRELATIONS_K: 10,
  MAX_ANALYSIS_K: 100,
  DEFAULT_ABLATION_EXAMPLES: 5,
  MAX_ABLATION_EXAMPLES: 20,
  /** magnitude of a clamp value */
  MAX_CLAMP: 1e6,
  /** a discovery over text: tokens through the model at most by default, and the bounds (those of an extraction's tokenBudget and contextLength) */
  DEFAULT_TEXT_TOKENS: 1_000_000,
  DEFAULT_TEXT_CONTEXT: 128,
  MAX_TEXT_TOKENS: 1e12,
  MAX_TEXT_CONTEXT: 1 << 17,
} as const;

const int = (min: number, max: number) => z.number().int().min(min).max(max);

/** A feature's id as URLs carry it. */
export function featureId(saeId: string, index: number): string {
  return `${saeId}:${index}`;
}

const FEATURE_ID = /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}):(\d{1,9})$/;

/** The SAE and index of a feature id, or null when it is not one. */
export function parseFeatureId(id: string): { saeId: string; index: number } | null {
  const m = FEATURE_ID.exec(id);
  return m ? { saeId: m[1]!.toLowerCase(), index: Number(m[2]) } : null;
}

/** `{id}` of the feature routes: `{saeId}:{index}`. */
export const featureIdParamSchema = z.object({
  id: z.string().regex(FEATURE_ID, 'expected a feature id {saeId}:{index}, e.g. 3f1c…:17'),
});

// ---------------------------------------------------------------------------
// Discoveries

/** How examples are taken: top examples per feature, tokens before and after the peak. */
export const discoverySettingsSchema = z.object({
  topK: int(1, FEATURE_LIMITS.MAX_TOP_K),
  left: int(0, FEATURE_LIMITS.MAX_CONTEXT),
  right: int(0, FEATURE_LIMITS.MAX_CONTEXT),
});
export type DiscoverySettings = z.infer<typeof discoverySettingsSchema>;

/** Where a discovery's activations come from: an extraction's store, or a dataset's text run through the SAE's model. */
export const DISCOVERY_SOURCES = ['extraction', 'text'] as const;
export type DiscoverySource = (typeof DISCOVERY_SOURCES)[number];

/**
 * How a discovery over text cuts the dataset: windows of `contextLength`
 * tokens (BOS included when the dataset's documents start with one) packed
 * back to back, as an extraction with default settings cuts them, up to
 * `maxTokens` tokens through the model.
 */
export const discoveryTextSchema = z.object({
  contextLength: int(2, FEATURE_LIMITS.MAX_TEXT_CONTEXT),
  maxTokens: int(1, FEATURE_LIMITS.MAX_TEXT_TOKENS),
});
export type DiscoveryText = z.infer<typeof discoveryTextSchema>;

/**
 * `POST /api/discoveries` body: over an extraction's stored activations
 * (`extractionId`, default the one the SAE's training ran on), or over a
 * dataset's text (`datasetId`, with `maxTokens` and `contextLength`), never
 * both.
 */
export const createDiscoverySchema = z
  .object({
    saeId: z.string().uuid(),
    /** default (without datasetId): the extraction the SAE's training ran on */
    extractionId: z.string().uuid().optional(),
    /** a dataset tokenized with the SAE's model's tokenizer: its text goes through the model up to the SAE's hook, no activation store is written */
    datasetId: z.string().uuid().optional(),
    /** with datasetId: tokens through the model at most (whole windows); default 1,000,000 */
    maxTokens: int(1, FEATURE_LIMITS.MAX_TEXT_TOKENS).optional(),
    /** with datasetId: tokens a window; default the SAE's context size (cfg.json context_size) when the model allows it, else 128 */
    contextLength: int(2, FEATURE_LIMITS.MAX_TEXT_CONTEXT).optional(),
    topK: int(1, FEATURE_LIMITS.MAX_TOP_K).default(FEATURE_LIMITS.DEFAULT_TOP_K),
    left: int(0, FEATURE_LIMITS.MAX_CONTEXT).default(FEATURE_LIMITS.DEFAULT_LEFT),
    right: int(0, FEATURE_LIMITS.MAX_CONTEXT).default(FEATURE_LIMITS.DEFAULT_RIGHT),
  })
  .strict()
  .superRefine((b, ctx) => {
    if (b.extractionId !== undefined && b.datasetId !== undefined) ctx.addIssue({ code: 'custom', path: ['datasetId'], message: 'give extractionId (stored activations) or datasetId (text through the model), not both' });
    for (const field of ['maxTokens', 'contextLength'] as const) {
      if (b[field] !== undefined && b.datasetId === undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'only for a discovery over text (with datasetId)' });
    }
  });
export type CreateDiscovery = z.input<typeof createDiscoverySchema>;

/** Progress of a running discovery (kept in its row; null before it starts). */
export const discoveryProgressSchema = z.object({
  phase: z.enum(DISCOVERY_PHASES),
  /** rows of the activation store read in this phase / to read (scan, examples; over text: tokens through the model); features labelled / to label (labels); features written / to write (saving) */
  rowsDone: z.number(),
  rowsTotal: z.number(),
  /** features labelled by the LLM so far (labels phase; 0 before) */
  featuresLabelled: z.number().int(),
  /** seconds left in this phase at the recent rate; null when unknown */
  etaSeconds: z.number().nullable(),
});
export type DiscoveryProgress = z.infer<typeof discoveryProgressSchema>;

/**
 * A discovery as the API shows it, and the payload of topic `discovery/{id}`
 * (published on every progress change, a few times a second at most).
 * Times in ms since epoch.
 */
export const discoverySchema = z.object({
  id: z.string(),
  saeId: z.string(),
  /** where its activations come from: an extraction's store, or a dataset's text through the model */
  source: z.enum(DISCOVERY_SOURCES),
  /** the extraction of a discovery over stored activations; null for one over text, or when the extraction was deleted since */
  extractionId: z.string().nullable(),
  /** the dataset of a discovery over text; null for one over an extraction, or when the dataset was deleted since */
  datasetId: z.string().nullable(),
  /** how a discovery over text cut the dataset; null for one over an extraction */
  text: discoveryTextSchema.nullable(),
  status: z.enum(DISCOVERY_STATUSES),
  progress: discoveryProgressSchema.nullable(),
  /** where it ran ({sae}: the encoder; {model} over text); null until its job knows */
  device: jobDeviceSchema.nullable(),
  settings: discoverySettingsSchema,
  /** activation rows scanned (over text: the tokens whose rows were encoded, BOS left out), once the scan is done */
  rows: z.number().nullable(),
  /** why it failed, or a note while a retry is pending */
  error: z.string().nullable(),
  /** a problem that did not stop it (e.g. the LLM endpoint failed: heuristic labels kept) */
  warning: z.string().nullable(),
  jobId: z.string().nullable(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
export type Discovery = z.infer<typeof discoverySchema>;

/** `GET /api/discoveries` query. */
export const discoveryListQuerySchema = z.object({
  sae: z.string().uuid().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** `GET /api/discoveries`: newest first. */
export const discoveryListSchema = z.object({ discoveries: z.array(discoverySchema) });

/** `{id}` of the discovery routes. */
export const discoveryIdParamSchema = z.object({ id: z.string().uuid() });

// ---------------------------------------------------------------------------
// Features

const queryBool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const fraction = z.coerce.number().min(0).max(1);

/** `GET /api/features` query. */
export const featureListQuerySchema = z
  .object({
    sae: z.string().uuid(),
    /** case-insensitive substring of the label */
    q: z.string().trim().max(FEATURE_LIMITS.MAX_LABEL).optional(),
    /** a token as the tokenizer shows it (e.g. " Moses"), or `#123` for an id: features whose top examples peak on it */
    token: z.string().min(1).max(200).optional(),
    /** activation frequency range, fractions of tokens */
    minFreq: fraction.optional(),
    maxFreq: fraction.optional(),
    favourite: queryBool.optional(),
    sort: z.enum(FEATURE_SORTS).default('-score'),
    limit: z.coerce.number().int().min(1).max(FEATURE_LIMITS.MAX_PAGE).default(FEATURE_LIMITS.DEFAULT_PAGE),
    offset: z.coerce.number().int().min(0).max(1e9).default(0),
  })
  .superRefine((q, ctx) => {
    if (q.minFreq != null && q.maxFreq != null && q.minFreq > q.maxFreq) ctx.addIssue({ code: 'custom', path: ['maxFreq'], message: 'maxFreq is below minFreq' });
  });
export type FeatureListQuery = z.infer<typeof featureListQuerySchema>;

/** A peak token of a feature's top examples. */
export const topTokenSchema = z.object({
  /** token id */
  token: z.number().int(),
  /** as the tokenizer shows it */
  text: z.string(),
  /** top examples that peak on it */
  count: z.number().int(),
});

/** A feature in the list. */
export const featureListItemSchema = z.object({
  /** `{saeId}:{index}` */
  id: z.string(),
  saeId: z.string(),
  index: z.number().int(),
  label: z.string().nullable(),
  labelSource: z.enum(LABEL_SOURCES).nullable(),
  /** interpretability score, 0..1: share of the top examples that agree with the heuristic label */
  score: z.number().nullable(),
  /** fraction of tokens on which it is active */
  frequency: z.number(),
  maxActivation: z.number(),
  /** mean over the tokens where it is active */
  meanActivation: z.number(),
  favourite: z.boolean(),
  hasNotes: z.boolean(),
  /** peak tokens of the top examples, most common first, at most 3 */
  topTokens: z.array(topTokenSchema),
});
export type FeatureListItem = z.infer<typeof featureListItemSchema>;

/** `GET /api/features` answer: `total` matches of the query, one page of them. */
export const featureListSchema = z.object({ total: z.number().int(), items: z.array(featureListItemSchema) });
export type FeatureList = z.infer<typeof featureListSchema>;

/** A top-activating example: the window around the peak, each token with the feature's activation on it. */
export const featureExampleSchema = z.object({
  rank: z.number().int(),
  /** activation at the peak */
  maxValue: z.number(),
  /** dataset offset of the peak token */
  position: z.number(),
  /** dataset offset of the window's first token */
  start: z.number(),
  tokens: z.array(z.object({ id: z.number().int(), text: z.string(), value: z.number() })),
});
export type FeatureExample = z.infer<typeof featureExampleSchema>;

/** `GET /api/features/{id}`. */
export const featureDetailSchema = featureListItemSchema.extend({
  notes: z.string().nullable(),
  /** histogram of the non-zero activation values: counts.length + 1 edges (log-spaced) */
  histogram: z.object({ edges: z.array(z.number()), counts: z.array(z.number()) }),
  examples: z.array(featureExampleSchema),
  /**
   * examples sampled from across its activation distribution (models/features/quantiles.ts): a few from each
   * quantile band of its active values, `band` the band's share of them ([0.25, 0.5): the second quartile),
   * lowest band first, each by value; `rank` counts within its band. Empty before a discovery sampled them.
   */
  quantiles: z.array(featureExampleSchema.extend({ band: z.object({ from: z.number(), to: z.number() }) })),
  sae: z.object({ id: z.string(), name: z.string(), hookPoint: z.string(), modelId: z.string().nullable(), dSae: z.number().int() }),
  /** the heuristic label and its score, whatever the shown label is */
  heuristic: z.object({ label: z.string(), score: z.number(), kind: z.enum(HEURISTIC_KINDS) }),
});
export type FeatureDetail = z.infer<typeof featureDetailSchema>;

/** `PATCH /api/features/{id}` body: a label set here is the user's; `label: null` goes back to the heuristic label. */
export const featurePatchSchema = z
  .object({
    label: z.string().trim().min(1).max(FEATURE_LIMITS.MAX_LABEL).nullable().optional(),
    favourite: z.boolean().optional(),
    notes: z.string().max(FEATURE_LIMITS.MAX_NOTES).nullable().optional(),
  })
  .strict()
  .refine((b) => b.label !== undefined || b.favourite !== undefined || b.notes !== undefined, 'give label, favourite or notes');
export type FeaturePatch = z.infer<typeof featurePatchSchema>;

// ---------------------------------------------------------------------------
// Analyses

/** Computed now (false) or read from the cache (true), and when (ms since epoch). */
const cacheFields = { cached: z.boolean(), computedAt: z.number() };
const tokenValueSchema = z.object({ token: z.number().int(), text: z.string(), value: z.number() });

/**
 * How the logit lens reads a decoder direction (models/features/lens.ts):
 * `weight`, the final norm's gain applied (after centring, for LayerNorm
 * families), or `none`, W_dec[f] · W_U exactly. Neither adds a bias.
 */
export const LENS_NORMS = ['weight', 'none'] as const;
export type LensNorm = (typeof LENS_NORMS)[number];

/** `GET /api/features/{id}/logit-lens` query. */
export const logitLensQuerySchema = z.object({
  k: z.coerce.number().int().min(1).max(FEATURE_LIMITS.MAX_ANALYSIS_K).default(FEATURE_LIMITS.DEFAULT_LENS_K),
  norm: z.enum(LENS_NORMS).default('weight'),
});
/** Tokens the decoder direction promotes most (top) and suppresses most (bottom), in logits before any soft-cap, under the convention `norm`. */
export const logitLensSchema = z.object({ norm: z.enum(LENS_NORMS), top: z.array(tokenValueSchema), bottom: z.array(tokenValueSchema), ...cacheFields });
export type LogitLensResult = z.infer<typeof logitLensSchema>;

/** `GET /api/features/{id}/correlations` query. */
export const correlationsQuerySchema = z.object({ k: z.coerce.number().int().min(1).max(FEATURE_LIMITS.MAX_ANALYSIS_K).default(FEATURE_LIMITS.DEFAULT_CORRELATIONS_K) });
const correlationSchema = z.object({ feature: z.number().int(), r: z.number(), label: z.string().nullable() });
/** Pearson correlations over `rows` stored activation rows; `feature` is an index of the same SAE. */
export const correlationsSchema = z.object({
  rows: z.number().int(),
  positive: z.array(correlationSchema),
  negative: z.array(correlationSchema),
  /** where the SAE's encoder ran ({sae}); absent in results cached before it was recorded */
  device: jobDeviceSchema.optional(),
  ...cacheFields,
});
export type CorrelationsResult = z.infer<typeof correlationsSchema>;

/** `GET /api/features/{id}/ablation` query: zero the feature, or clamp it to `value`, on its top `examples` contexts. */
export const ablationQuerySchema = z
  .object({
    mode: z.enum(['zero', 'clamp']).default('zero'),
    value: z.coerce.number().min(-FEATURE_LIMITS.MAX_CLAMP).max(FEATURE_LIMITS.MAX_CLAMP).optional(),
    examples: z.coerce.number().int().min(1).max(FEATURE_LIMITS.MAX_ABLATION_EXAMPLES).default(FEATURE_LIMITS.DEFAULT_ABLATION_EXAMPLES),
  })
  .superRefine((q, ctx) => {
    if (q.mode === 'clamp' && q.value == null) ctx.addIssue({ code: 'custom', path: ['value'], message: 'clamp needs a value' });
  });
export type AblationQuery = z.infer<typeof ablationQuerySchema>;

/** Mean next-token loss before and after, per position change, the contexts, and the next-token probabilities that moved most. */
export const ablationSchema = z.object({
  lossBefore: z.number(),
  lossAfter: z.number(),
  perplexityBefore: z.number(),
  perplexityAfter: z.number(),
  /** [context][position] loss after − before, for predicting token pos + 1 */
  deltaLoss: z.array(z.array(z.number())),
  contexts: z.array(z.object({ tokens: z.array(z.object({ id: z.number().int(), text: z.string() })) })),
  /** row: the context; pos: the position predicting; token: the next-token candidate */
  moved: z.array(z.object({ row: z.number().int(), pos: z.number().int(), token: z.number().int(), text: z.string(), before: z.number(), after: z.number() })),
  /** where the model ran ({model}); absent in results cached before it was recorded */
  device: jobDeviceSchema.optional(),
  ...cacheFields,
});
export type AblationResponse = z.infer<typeof ablationSchema>;

/** 202 of an analysis that is still running: poll the same URL. */
export const analysisPendingSchema = z.object({ jobId: z.string() });

// ---------------------------------------------------------------------------
// Settings

/** The LLM endpoint as stored and as the API shows it (never the key). */
export const llmSettingsSchema = z.object({ url: z.string(), model: z.string(), apiKeySet: z.boolean() });

/** `GET /api/settings`. */
export const settingsSchema = z.object({ llm: llmSettingsSchema.nullable() });
export type Settings = z.infer<typeof settingsSchema>;

/** An OpenAI-compatible endpoint: base URL (…/v1), model, key. `apiKey` left out keeps the stored key (for the same endpoint only); null removes it. */
export const llmSettingsInputSchema = z
  .object({
    url: z
      .string()
      .trim()
      .max(2000)
      .url('expected an http(s) URL such as http://localhost:11434/v1')
      .refine((u) => /^https?:\/\//i.test(u), 'expected an http(s) URL such as http://localhost:11434/v1')
      // credentials in the URL would be returned by GET /api/settings and logged with it: they go in apiKey
      .refine((u) => !/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(u), 'no user or password in the URL: give the key as apiKey'),
    model: z.string().trim().min(1).max(200),
    apiKey: z.string().max(1000).nullable().optional(),
  })
  .strict();
export type LlmSettingsInput = z.infer<typeof llmSettingsInputSchema>;

/** `PUT /api/settings` body: null turns the LLM labels off. */
export const putSettingsSchema = z.object({ llm: llmSettingsInputSchema.nullable() }).strict();

/** `POST /api/settings/llm/test` body: the settings to try (default: the stored ones). */
export const llmTestBodySchema = z.object({ llm: llmSettingsInputSchema.optional() }).strict();

/** `POST /api/settings/llm/test` answer: one chat completion went through. */
export const llmTestResultSchema = z.object({ ok: z.literal(true), model: z.string(), sample: z.string() });

// ---------------------------------------------------------------------------
// Jobs

/** Data of a `features.discover` job: the `discoveries` row it runs. */
export const discoverJobDataSchema = z.object({ discoveryId: z.string().uuid() });
export type DiscoverJobData = z.infer<typeof discoverJobDataSchema>;

/** Data of a `features.analyze` job: one analysis of one feature (or, `encode`, of tokens by the SAE), written to analysis_cache under `key`. */
export const analyzeJobDataSchema = z.object({
  key: z.string(),
  saeId: z.string().uuid(),
  /** the feature; null for `encode` */
  index: z.number().int().min(0).nullable(),
  kind: z.enum(ANALYSIS_KINDS),
  /** the analysis's query (k; mode, value, examples; encode: topK, and a hash of the tokens for the key) */
  params: z.record(z.string(), z.union([z.number(), z.string()])),
  /** encode: the caller's token ids, and the BOS id put before them for the forward pass (null: none) */
  tokens: z.object({ ids: z.array(z.number().int().min(0)).min(1), bos: z.number().int().min(0).nullable() }).optional(),
});
export type AnalyzeJobData = z.infer<typeof analyzeJobDataSchema>;
