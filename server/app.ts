/**
 * The Hono application: every API route, validated by zod and described in an
 * OpenAPI document. Written against Web-standard APIs only and given its
 * dependencies through {@link AppDeps}, so `app.fetch` runs on Node (see
 * server/main.ts) or on an edge runtime.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import type PgBoss from 'pg-boss';
import type { PublicConfig } from '../models/contracts/api.ts';
import { logger } from '../models/log.ts';
import { SettingsError } from '../models/settings-error.ts';
import type { Db } from '../db/client.ts';
import type { Events } from '../db/events.ts';
import { checkAccess, TOKEN_COOKIE } from './auth.ts';
import { AppError, errorBody, onError, validationError } from './errors.ts';
import { inputGuard } from './input-guard.ts';
import { registerCompareRoutes } from './routes/compare.ts';
import { registerConfigRoutes } from './routes/config.ts';
import { registerDatasetRoutes } from './routes/datasets.ts';
import { registerDiscoveryRoutes } from './routes/discoveries.ts';
import { registerExtractionRoutes } from './routes/extractions.ts';
import { registerFeatureRoutes } from './routes/features.ts';
import { registerHealthRoutes } from './routes/health.ts';
import { registerInspectorRoutes } from './routes/inspector.ts';
import { registerJobRoutes } from './routes/jobs.ts';
import { registerModelRoutes } from './routes/models.ts';
import { registerSaeFamilyRoutes } from './routes/sae-families.ts';
import { registerSaeRoutes } from './routes/saes.ts';
import { registerSettingsRoutes } from './routes/settings.ts';
import { registerSweepRoutes } from './routes/sweeps.ts';
import { registerSystemRoutes } from './routes/system.ts';
import { registerTemplateRoutes } from './routes/templates.ts';
import { registerTrainingRoutes } from './routes/trainings.ts';
import { fieldError } from './responses.ts';
import type { DatasetStorage, ExtractionStorage, FeatureStorage, InspectorStorage, ModelStorage, SaeStorage } from './storage.ts';

const log = logger('http');

/** What the routes need from the outside world. */
export interface AppDeps {
  db: Db;
  /** started pg-boss, for sending and cancelling jobs (the server runs none) */
  boss: PgBoss;
  /** publisher of real-time events */
  events: Events;
  storage: ModelStorage;
  datasets: DatasetStorage;
  /** activation stores (on Node: server/extraction-storage.ts) */
  extractions: ExtractionStorage;
  /** SAE folders (on Node: server/sae-storage.ts) */
  saes: SaeStorage;
  /** tokenizers and discovery folders (on Node: server/feature-storage.ts) */
  features: FeatureStorage;
  /** the browser inspector's files of SAEs (on Node: server/inspector-storage.ts) */
  inspector: InspectorStorage;
  /** ms an analysis request waits for its job before a 202 (default POLICY.ANALYSIS_WAIT_MS) */
  analysisWaitMs?: number;
  version: string;
  /** configured token; undefined in loopback mode */
  token: string | undefined;
  /** this server's host name, the default host of system history */
  hostname: string;
  /** the data directory (absolute): written as `DATA_DIR` in error messages, which never show where it is on the host */
  dataDir?: string;
  /** builds the public config for a request (the WebSocket URL depends on the Host the browser used) */
  publicConfig: (requestUrl: URL) => PublicConfig;
  startedAt: number;
}

export type AppEnv = { Variables: { requestId: string; deps: AppDeps } };
export type App = OpenAPIHono<AppEnv>;

let requestCounter = 0;

/** Assigns a request id and logs one line per request with status and duration. */
const requestLog: MiddlewareHandler<AppEnv> = async (c, next) => {
  const requestId = c.req.header('x-request-id')?.slice(0, 64) || `${Date.now().toString(36)}-${(++requestCounter).toString(36)}`;
  c.set('requestId', requestId);
  const started = performance.now();
  await next();
  c.header('x-request-id', requestId);
  const ms = Math.round((performance.now() - started) * 10) / 10;
  const path = c.req.path;
  const quiet = c.res.status < 400 && (!path.startsWith('/api/') || path === '/api/system/metrics' || path === '/api/health');
  (quiet ? log.debug : log.info)(`${c.req.method} ${path} ${c.res.status}`, { ms, requestId });
};

/** Creates the API application. Static hosting of the web app is added by the Node entry. */
export function createApp(deps: AppDeps): App {
  const app: App = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error, result.target === 'query' ? 'query parameters' : `request ${result.target}`);
    },
  });
  // a setting the model, dataset or activations cannot satisfy (models/settings-error.ts) is a 400 naming its field
  app.onError((err, c) => onError(err instanceof SettingsError ? fieldError(err.field, err.reason) : err, c));
  app.use('*', requestLog);
  app.use('*', async (c, next) => {
    c.set('deps', deps);
    const url = new URL(c.req.url);
    const access = checkAccess(deps.token, c.req.raw.headers, url);
    if (!access.ok) return c.json(errorBody(access.code, access.message, undefined, c.get('requestId')), access.status);
    if (access.viaQuery && deps.token && c.req.method === 'GET' && !c.req.path.startsWith('/api/')) {
      // A page opened with ?token=: keep the token in a cookie and drop it from the address bar.
      c.header('set-cookie', `${TOKEN_COOKIE}=${encodeURIComponent(deps.token)}; Path=/; HttpOnly; SameSite=Strict`);
      url.searchParams.delete('token');
      return c.redirect(url.pathname + url.search, 302);
    }
    await next();
  });
  app.use('*', inputGuard);

  registerHealthRoutes(app);
  registerConfigRoutes(app);
  registerSystemRoutes(app);
  registerJobRoutes(app);
  registerModelRoutes(app);
  registerDatasetRoutes(app);
  registerExtractionRoutes(app);
  registerTemplateRoutes(app, 'extraction');
  // before the training routes: `/api/trainings/{id}` would take `compare` for an id
  registerCompareRoutes(app);
  registerTrainingRoutes(app);
  registerTemplateRoutes(app, 'training');
  registerSweepRoutes(app);
  registerSaeRoutes(app);
  registerSaeFamilyRoutes(app);
  registerInspectorRoutes(app);
  registerDiscoveryRoutes(app);
  registerFeatureRoutes(app);
  registerSettingsRoutes(app);

  app.doc31('/api/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Loupe API', version: deps.version, description: 'Real-time interpretability workbench. Errors: `{error: {code, message, details}}`.' },
  });
  app.notFound((c) => {
    throw new AppError('not_found', 404, `No route for ${c.req.method} ${c.req.path}`);
  });
  return app;
}
