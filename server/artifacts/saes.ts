/** SAEs as the API shows them. */
import type { Sae } from '../../models/contracts/trainings.ts';
import type { SaeRow } from '../../db/queries/saes.ts';

/** The API's view of a row; `k` read from its cfg.json (SAELens 5 or 6). */
export function toSae(r: SaeRow): Sae {
  const cfg = r.cfg;
  const kwargs = (cfg.activation_fn_kwargs ?? {}) as Record<string, unknown>;
  const k = typeof cfg.k === 'number' ? cfg.k : typeof kwargs.k === 'number' ? kwargs.k : null;
  return {
    id: r.id,
    name: r.name,
    trainingId: r.trainingId,
    modelId: r.modelId,
    modelName: r.modelName,
    hookPoint: r.hookPoint,
    architecture: r.architecture,
    dIn: r.dIn,
    dSae: r.dSae,
    k,
    cfg,
    metrics: (r.metrics as Sae['metrics']) ?? null,
    path: r.path,
    family: r.family,
    createdAt: r.createdAt,
  };
}
