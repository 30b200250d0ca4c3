/**
 * The registry of architecture families: `model_type` (config.json) → family
 * file. A family that is not listed here is refused with a message naming its
 * `model_type`.
 */
import { gemma2 } from './gemma2.ts';
import { checkConfigBounds, checkSpec, ModelFormatError } from './limits.ts';
import { gpt2 } from './gpt2.ts';
import { gptNeo } from './gpt-neo.ts';
import { gptNeox } from './gpt-neox.ts';
import { llama } from './llama.ts';
import { opt } from './opt.ts';
import { phi3 } from './phi3.ts';
import type { ArchSpec, Family } from './spec.ts';

const FAMILIES: readonly Family[] = [gpt2, gptNeo, gptNeox, llama, gemma2, phi3, opt];

/** model_type values Loupe can build a graph for. */
export const SUPPORTED_MODEL_TYPES = ['gpt2', 'gpt_neo', 'gpt_neox', 'llama', 'mistral', 'qwen2', 'gemma2', 'phi3', 'opt'] as const;
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

export class UnsupportedArchitectureError extends Error {
  constructor(readonly modelType: string | undefined) {
    super(
      modelType === undefined
        ? 'config.json has no "model_type"; cannot tell the architecture'
        : `Unsupported architecture: model_type "${modelType}" (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
    );
    this.name = 'UnsupportedArchitectureError';
  }
}

export function isSupportedModelType(t: unknown): t is ModelType {
  return typeof t === 'string' && (SUPPORTED_MODEL_TYPES as readonly string[]).includes(t);
}

/** Checks a parsed config.json and returns its model_type, or throws {@link UnsupportedArchitectureError}. */
export function modelTypeOf(config: Record<string, unknown>): ModelType {
  const t = config.model_type;
  if (!isSupportedModelType(t)) throw new UnsupportedArchitectureError(typeof t === 'string' ? t : undefined);
  return t;
}

/**
 * The family that builds graphs for a config. Its `spec` checks the config
 * against models/architectures/limits.ts before the family reads it, and the
 * spec after: anything wrong in config.json is a {@link ModelFormatError}.
 */
export function familyOf(config: Record<string, unknown>): Family {
  const t = modelTypeOf(config);
  const f = FAMILIES.find((x) => x.modelTypes.includes(t));
  if (!f) throw new UnsupportedArchitectureError(t);
  return { ...f, spec: (c) => checkedSpec(f, c) };
}

/** A family's spec of `config`, checked before (raw numbers) and after (derived ones). */
function checkedSpec(f: Family, config: Record<string, unknown>): ArchSpec {
  checkConfigBounds(config);
  let spec: ArchSpec;
  try {
    spec = f.spec(config);
  } catch (err) {
    // a missing field, an unsupported activation or rope type: the config is what is wrong, on every attempt
    throw new ModelFormatError(err instanceof Error ? err.message : String(err), {}, { cause: err });
  }
  checkSpec(spec);
  return spec;
}
