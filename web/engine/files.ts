/**
 * Large files the page downloads once (model graphs, decoder rows), kept in
 * the browser's Cache Storage under their SHA-256: a file whose checksum the
 * manifest still names is read from there, never downloaded again; a new
 * checksum downloads it anew and drops the older copies of the same URL.
 * Downloads report their progress (bytes of the total) and are checked
 * against their checksum before they are kept.
 */

/** The cache of the inspector's files; bump the name to drop every copy. */
const CACHE = 'loupe-inspector-v1';

/** A file to fetch: its URL and what the manifest says of it. */
export interface CachedFile {
  url: string;
  bytes: number;
  sha256: string;
}

/** Progress of one file: bytes received of the total; `cached` when it came from Cache Storage. */
export interface FileProgress {
  url: string;
  loaded: number;
  total: number;
  cached: boolean;
}

async function hex(data: ArrayBuffer): Promise<string> {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

const keyOf = (f: CachedFile) => `${f.url}${f.url.includes('?') ? '&' : '?'}sha256=${f.sha256}`;

/** Cache Storage, where the page may use it (a secure context: https or localhost); null elsewhere. */
async function openCache(): Promise<Cache | null> {
  try {
    return typeof caches === 'undefined' ? null : await caches.open(CACHE);
  } catch {
    return null;
  }
}

/**
 * The file's bytes, from Cache Storage when a copy of this checksum is there,
 * else downloaded (with `onProgress` as bytes arrive), checked, and kept.
 * Throws when the download fails or its checksum differs.
 */
export async function fetchCached(f: CachedFile, onProgress?: (p: FileProgress) => void, signal?: AbortSignal): Promise<ArrayBuffer> {
  const cache = await openCache();
  const hit = await cache?.match(keyOf(f));
  if (hit) {
    const data = await hit.arrayBuffer();
    if (data.byteLength === f.bytes) {
      onProgress?.({ url: f.url, loaded: f.bytes, total: f.bytes, cached: true });
      return data;
    }
  }
  const res = await fetch(f.url, { credentials: 'same-origin', signal: signal ?? null });
  if (!res.ok || !res.body) {
    let message = `${res.status} ${res.statusText}`;
    try {
      message = ((await res.json()) as { error?: { message?: string } }).error?.message ?? message;
    } catch {
      // not the API's error body
    }
    throw new Error(`${f.url}: ${message}`);
  }
  const data = new Uint8Array(f.bytes);
  const reader = res.body.getReader();
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (loaded + value.length > data.length) throw new Error(`${f.url}: more than the ${f.bytes} bytes the manifest announced`);
    data.set(value, loaded);
    loaded += value.length;
    onProgress?.({ url: f.url, loaded, total: f.bytes, cached: false });
  }
  if (loaded !== f.bytes) throw new Error(`${f.url}: ${loaded} bytes arrived of the ${f.bytes} the manifest announced`);
  const sum = await hex(data.buffer);
  if (sum !== f.sha256) throw new Error(`${f.url}: the download's SHA-256 is ${sum.slice(0, 12)}…, the manifest's ${f.sha256.slice(0, 12)}…`);
  if (cache) {
    await cache.put(keyOf(f), new Response(data, { headers: { 'content-type': 'application/octet-stream', 'content-length': String(f.bytes) } })).catch(() => undefined);
    // older copies of the same file go
    for (const req of await cache.keys()) {
      const u = new URL(req.url);
      if (u.pathname === new URL(f.url, location.href).pathname && u.searchParams.get('sha256') !== f.sha256) await cache.delete(req);
    }
  }
  return data.buffer;
}

/** A stream of `data` in pieces of at most `piece` bytes (for uploads that take a stream). */
export function streamOf(data: ArrayBuffer, piece = 4 * 1024 * 1024): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= data.byteLength) return c.close();
      c.enqueue(new Uint8Array(data, at, Math.min(piece, data.byteLength - at)));
      at += piece;
    },
  });
}
