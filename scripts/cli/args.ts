/** Shared pieces of the CLI commands in this folder. */
import { errorBodySchema } from '../../models/contracts/api.ts';

/** Bad usage: the message names the option; the CLI prints the usage and exits 2. */
export class UsageError extends Error {}

export interface Command {
  /** one line: the command and its options */
  usage: string;
  run(args: string[]): Promise<void>;
}

/** Parses a comma-separated list of non-negative integers given to `--option`. */
export function parseIntList(option: string, value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p) || !Number.isSafeInteger(Number(p))) throw new UsageError(`${option}: "${p}" is not a non-negative integer (expected e.g. ${option} 1,2,3)`);
    out.push(Number(p));
  }
  return out;
}

/** The server's base URL from --server, LOUPE_SERVER or PORT (http://127.0.0.1:8787). */
export function serverUrl(option: string | undefined): string {
  const raw = option ?? process.env.LOUPE_SERVER ?? `http://127.0.0.1:${process.env.PORT || 8787}`;
  if (!/^https?:\/\/[^/]+/.test(raw)) throw new UsageError(`--server: "${raw}" is not an http:// or https:// URL`);
  return raw.replace(/\/+$/, '');
}

/** An error answer of the API: its message, HTTP status and `details` (for a 400, `[{field, message}]`). */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly details: unknown,
  ) {
    super(message);
  }
}

/** fetch of `base` + `p` with LOUPE_TOKEN as a bearer token; an error answer becomes an {@link ApiError} with the server's message. */
export async function call(base: string, p: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (process.env.LOUPE_TOKEN) headers.set('authorization', `Bearer ${process.env.LOUPE_TOKEN}`);
  let res: Response;
  try {
    res = await fetch(`${base}${p}`, { ...init, headers });
  } catch (err) {
    throw new Error(`cannot reach ${base} (${(err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message}); is Loupe running? (--server URL)`);
  }
  if (!res.ok) {
    const body = errorBodySchema.safeParse(await res.json().catch(() => null));
    throw new ApiError(body.success ? body.data.error.message : `${init.method ?? 'GET'} ${p}: HTTP ${res.status}`, res.status, body.success ? body.data.error.details : undefined);
  }
  return res;
}
