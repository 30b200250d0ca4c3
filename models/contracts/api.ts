/**
 * Request and response schemas of the HTTP API, declared once: the server
 * validates with them and generates the OpenAPI document from them, and the
 * web app parses responses with them.
 */
import { z } from 'zod';

/** The one error body of every 4xx/5xx response. */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
    requestId: z.string().optional(),
  }),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

export const healthSchema = z.object({
  status: z.enum(['ok', 'degraded']),
  version: z.string(),
  uptimeS: z.number(),
  database: z.object({ ok: z.boolean(), latencyMs: z.number().nullable(), error: z.string().optional() }),
  queue: z.object({ ok: z.boolean(), version: z.number().nullable(), error: z.string().optional() }),
  workers: z.object({
    /** workers whose heartbeat is younger than 30 s */
    active: z.number().int(),
    list: z.array(
      z.object({
        id: z.string(),
        host: z.string(),
        pid: z.number().int(),
        startedAt: z.number(),
        lastSeen: z.number(),
        concurrency: z.number().int(),
      }),
    ),
  }),
});
export type Health = z.infer<typeof healthSchema>;

export const configSchema = z.object({
  version: z.string(),
  wsUrl: z.string(),
  /** host name of this server (the default host of the System page) */
  host: z.string(),
  /** true when the WebSocket needs `?token=` */
  authRequired: z.boolean(),
  systemSampleMs: z.number().int(),
});
export type PublicConfig = z.infer<typeof configSchema>;

export const SYSTEM_WINDOWS = ['15m', '1h', '6h', '24h'] as const;
export type SystemWindow = (typeof SYSTEM_WINDOWS)[number];
export const WINDOW_MS: Record<SystemWindow, number> = {
  '15m': 15 * 60_000,
  '1h': 3600_000,
  '6h': 6 * 3600_000,
  '24h': 24 * 3600_000,
};

export const systemMetricsQuerySchema = z.object({
  window: z.enum(SYSTEM_WINDOWS).default('1h'),
  host: z.string().max(255).optional(),
  /** comma-separated metric names or prefixes ending in `*` (e.g. `cpu.*,mem.used`); all when omitted */
  metrics: z.string().max(2000).optional(),
  /** points per series; buckets are window / points wide */
  points: z.coerce.number().int().min(10).max(2000).default(300),
});
export type SystemMetricsQuery = z.infer<typeof systemMetricsQuerySchema>;

/** One downsampled series: per bucket the bucket start, min, max and last value. */
export const seriesSchema = z.object({
  /** bucket start, ms since epoch; the first and last raw points are kept as their own entries */
  t: z.array(z.number()),
  min: z.array(z.number()),
  max: z.array(z.number()),
  last: z.array(z.number()),
});
export type Series = z.infer<typeof seriesSchema>;

export const systemMetricsSchema = z.object({
  host: z.string().nullable(),
  hosts: z.array(z.string()),
  window: z.enum(SYSTEM_WINDOWS),
  from: z.number(),
  to: z.number(),
  /** width of one bucket, ms */
  bucketMs: z.number(),
  /** seconds between the stored points the buckets were built from */
  sourceResolutionS: z.number(),
  series: z.record(z.string(), seriesSchema),
  gpus: z.array(z.object({ index: z.number().int(), name: z.string() })),
});
export type SystemMetrics = z.infer<typeof systemMetricsSchema>;
