/**
 * The browser inspector's files of an SAE (`GET /api/saes/{id}/inspector`):
 * their manifest, built by a `features.analyze` job of kind `inspector`
 * (models/features/inspector-bundle.ts) that the request sends and waits for
 * as the analyses do (analyses.ts: cached, one job per SAE), then read from
 * DATA_DIR by the file routes.
 */
import { INSPECTOR_BUNDLE_VERSION, type InspectorManifest, type InspectorResponse } from '../../models/contracts/inspector.ts';
import { modelOfSae } from '../../db/queries/discoveries.ts';
import { getSae } from '../../db/queries/saes.ts';
import { AppError } from '../errors.ts';
import { notFound } from '../responses.ts';
import type { AppDeps } from '../app.ts';
import { analysis } from './analyses.ts';

/** The manifest of SAE `saeId`'s inspector files, built now when needed; `{jobId}` when the build outlasts the wait (for a 202). */
export async function inspectorOf(deps: Pick<AppDeps, 'db' | 'boss' | 'analysisWaitMs'>, saeId: string): Promise<InspectorResponse | { jobId: string }> {
  const sae = await getSae(deps.db, saeId);
  if (!sae) throw notFound('SAE', saeId);
  if (!(await modelOfSae(deps.db, sae.id))) {
    throw new AppError('conflict', 409, `SAE ${sae.id} has no model to run in the browser: import it with its model (modelId), or train it on an extraction here`);
  }
  const r = await analysis(deps, 'inspector', sae.id, null, { v: INSPECTOR_BUNDLE_VERSION });
  if ('jobId' in r) return r;
  return { ...(r.result as unknown as InspectorManifest), cached: r.cached, computedAt: r.computedAt };
}

/** The saved manifest of SAE `saeId`, for the file routes: a 404 that says how to build it when there is none. */
export async function savedManifest(deps: Pick<AppDeps, 'db' | 'inspector'>, saeId: string): Promise<InspectorManifest> {
  const manifest = await deps.inspector.manifest(saeId);
  if (manifest) return manifest;
  if (!(await getSae(deps.db, saeId))) throw notFound('SAE', saeId);
  throw new AppError('not_built', 404, `the inspector files of SAE ${saeId} are not built yet: GET /api/saes/${saeId}/inspector builds them`, { field: 'id' });
}
