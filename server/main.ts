/**
 * The server process (Node entry): HTTP API and web app on HOST:PORT, the
 * WebSocket hub on HOST:WS_PORT, a LISTEN connection forwarding events to the
 * hub, the sampler of this host's system metrics, and a pg-boss client that
 * sends and cancels jobs.
 */
import { readFileSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { serveStatic } from '@hono/node-server/serve-static';
import PgBoss from 'pg-boss';
import { ConfigError, loadConfig } from '../models/config.ts';
import { JOB_QUEUES } from '../models/contracts/jobs.ts';
import { createQueues } from '../db/queues.ts';
import { checkLocalModelFolder, removeModelDir } from '../models/model-files.ts';
import { holdEarlySignals, onShutdown } from '../models/lifecycle.ts';
import { logger, setLogLevel } from '../models/log.ts';
import { startSampler } from '../models/system/sampler.ts';
import { snapshotPoints } from '../models/system/types.ts';
import { openDatabase } from '../db/client.ts';
import { createEvents, listenEvents } from '../db/events.ts';
import { guardAgainstOutages, isDatabaseUnavailable, outageLogger, retryAtStart } from '../db/outage.ts';
import { runMigrations } from '../db/migrate.ts';
import { recordSystemSnapshot } from '../db/system-recorder.ts';
import { createApp } from './app.ts';
import { createDatasetStorage } from './dataset-storage.ts';
import { createExtractionStorage } from './extraction-storage.ts';
import { createSaeStorage } from './sae-storage.ts';
import { createFeatureStorage } from './feature-storage.ts';
import { createInspectorStorage } from './inspector-storage.ts';
import { startHub } from './hub.ts';
import { createGuardedServer } from './node-http.ts';
import { inspectModel } from '../models/inspect.ts';

const log = logger('server');
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WEB_DIST = path.join(ROOT, 'web', 'dist');

/** The package version, shown by /api/config and /api/health. */
const VERSION: string = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version;

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

async function main(): Promise<void> {
  holdEarlySignals(log);
  const config = loadConfig();
  setLogLevel(config.logLevel);
  if (!config.databaseUrl) throw new ConfigError('DATABASE_URL', 'the server needs a PostgreSQL connection string (`npm start` provides one)');
  const startedAt = Date.now();
  // PostgreSQL going away (restarted by `npm start`, a network cut) is waited out, not a crash: routes answer 503 meanwhile.
  guardAgainstOutages(log);
  // a database not up yet (restarting, or started after this process) is waited for
  await retryAtStart(() => runMigrations(config.databaseUrl!), log);
  const database = openDatabase(config.databaseUrl, { onError: (err) => log.warn('idle database connection failed', { error: err }) });
  const events = createEvents(database.pool);

  // pg-boss for sending and cancelling jobs: no maintenance or cron here (workers do that), but it
  // installs its schema when the server is the first to start, and creates the queues it sends to.
  const boss = new PgBoss({ connectionString: config.databaseUrl, application_name: 'loupe-server', supervise: false, schedule: false, max: 4 });
  const bossOutage = outageLogger(log, 'pg-boss');
  boss.on('error', (err) => (isDatabaseUnavailable(err) ? bossOutage.failed(err) : log.error('pg-boss error', { error: err })));
  await boss.start();
  await createQueues(database.pool, boss, Object.entries(JOB_QUEUES).map(([name, options]) => ({ ...options, name })));

  const hub = await startHub({ host: config.host, port: config.wsPort, token: config.token });
  const listener = await listenEvents(config.databaseUrl, {
    pool: database.pool,
    onEvent: (message) => hub.publish(message),
    onStatus: (message, err) => log.warn(message, err ? { error: err } : undefined),
  });

  const app = createApp({
    db: database.db,
    boss,
    events,
    storage: { checkLocalFolder: checkLocalModelFolder, removeModel: (id) => removeModelDir(config.dataDir, id), inspect: inspectModel },
    datasets: createDatasetStorage(config.dataDir, { maxUploadBytes: config.uploadMaxBytes }),
    extractions: createExtractionStorage(config.dataDir),
    saes: createSaeStorage(config.dataDir),
    features: createFeatureStorage(config.dataDir),
    inspector: createInspectorStorage(config.dataDir),
    version: VERSION,
    token: config.token,
    hostname: hostname(),
    dataDir: config.dataDir,
    startedAt,
    publicConfig: (requestUrl) => ({
      version: VERSION,
      host: hostname(),
      // The browser reaches the hub on the host name it used for the page.
      wsUrl: config.publicWsUrl ?? `${requestUrl.protocol === 'https:' ? 'wss' : 'ws'}://${urlHost(requestUrl.hostname)}:${hub.port}/ws`,
      authRequired: config.token !== undefined,
      systemSampleMs: config.systemSampleMs,
    }),
  });
  if (existsSync(path.join(WEB_DIST, 'index.html'))) {
    const root = path.relative(process.cwd(), WEB_DIST);
    app.use('/*', serveStatic({ root }));
    // Client-side routes (/system, /models, ...) all load the app.
    app.get('*', (c, next) => (c.req.path.startsWith('/api/') ? next() : serveStatic({ root, path: 'index.html' })(c, next)));
  } else {
    log.warn('web app not built (web/dist missing): only the API is served; `npm start` builds it');
  }

  const http = serve({ fetch: app.fetch, hostname: config.host, port: config.port, createServer: createGuardedServer as typeof import('node:http').createServer });
  await new Promise<void>((resolve, reject) => {
    http.once('listening', resolve);
    http.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new ConfigError('PORT', `${config.host}:${config.port} is already in use`) : err),
    );
  });

  const sampler =
    (config.sampler ?? true)
      ? startSampler({
          intervalMs: config.systemSampleMs,
          path: config.dataDir,
          nvidiaSmi: config.nvidiaSmi,
          onSample: (s) => recordSystemSnapshot(database.db, events, s, snapshotPoints(s)),
          onWarning: (message) => log.warn(message),
        })
      : undefined;

  log.info('listening', { url: `http://${urlHost(config.host)}:${config.port}`, ws: hub.port, auth: config.token ? 'token' : 'loopback' });

  onShutdown(log, async () => {
    await sampler?.stop();
    hub.close();
    await new Promise((resolve) => {
      http.close(resolve);
      (http as import('node:http').Server).closeAllConnections();
    });
    await listener.close();
    await boss.stop({ graceful: false, wait: true }).catch((err) => log.warn('pg-boss stop failed', { error: err }));
    await database.close();
  });
}

main().catch((err) => {
  log.error(err instanceof ConfigError ? err.message : 'server failed to start', err instanceof ConfigError ? undefined : { error: err instanceof Error ? err.stack : String(err) });
  process.exit(1);
});
