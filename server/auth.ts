/**
 * Access control for HTTP and WebSocket. Written against Web-standard
 * headers only, so it serves the Node entry and an edge runtime alike.
 *
 * - With a token (required on a non-loopback bind): every request needs it,
 *   as `Authorization: Bearer <token>`, `?token=<token>` or the `loupe_token`
 *   cookie that a `?token=` page visit sets.
 * - Without one (loopback only): requests must name a loopback Host and, when
 *   a browser sends an Origin, a loopback Origin, so a web page on another
 *   site cannot drive the local API (CSRF) or reach it by DNS rebinding.
 */
export const TOKEN_COOKIE = 'loupe_token';

/** Compares two strings in time independent of where they differ. */
export function safeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < Math.max(a.length, b.length); i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}

/** Reads one cookie from a Cookie header. */
export function readCookie(header: string | null | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const raw = part.slice(eq + 1).trim();
      // A malformed escape (`%E0%A4%A`) is a wrong token, not an error: decodeURIComponent would throw.
      try {
        return decodeURIComponent(raw);
      } catch {
        return raw;
      }
    }
  }
  return undefined;
}

/**
 * True when a Host header is syntactically a host with an optional port
 * (RFC 9110 §7.2: uri-host [":" port]): a registered name, an IPv4 address or
 * a bracketed IPv6 literal. Anything else (spaces, `@`, `/`, control
 * characters, an empty name) is a malformed request, answered 400 before any
 * URL is built from it.
 */
export function isValidHostHeader(host: string | null | undefined): boolean {
  if (!host || host.length > 255) return false;
  return /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9._~-]*[A-Za-z0-9_~-])?)(?::\d{1,5})?$/.test(host);
}

/** The token a request presents, from header, query or cookie. */
export function presentedToken(headers: { get(name: string): string | null }, url: URL): string | undefined {
  const auth = headers.get('authorization');
  if (auth?.toLowerCase().startsWith('bearer ')) return auth.slice(7).trim();
  return url.searchParams.get('token') ?? readCookie(headers.get('cookie'), TOKEN_COOKIE) ?? undefined;
}

function hostnameOf(hostHeader: string): string {
  // "[::1]:8787" → "::1", "localhost:8787" → "localhost"
  if (hostHeader.startsWith('[')) return hostHeader.slice(1, hostHeader.indexOf(']'));
  const colon = hostHeader.lastIndexOf(':');
  return colon > 0 && hostHeader.indexOf(':') === colon ? hostHeader.slice(0, colon) : hostHeader;
}

const LOOPBACK_NAMES = /^(localhost|127(\.\d{1,3}){3}|::1)$/i;

/** True when a Host header names a loopback address. */
export function isLoopbackHost(hostHeader: string | null): boolean {
  return hostHeader !== null && LOOPBACK_NAMES.test(hostnameOf(hostHeader));
}

/** True when an Origin header (if any) is a loopback origin. */
export function isLoopbackOrigin(origin: string | null): boolean {
  if (origin === null) return true;
  try {
    return LOOPBACK_NAMES.test(new URL(origin).hostname.replace(/^\[|\]$/g, ''));
  } catch {
    return false;
  }
}

/** Outcome of an access check: allowed, or refused with a status and reason. */
export type AccessDecision = { ok: true; viaQuery: boolean } | { ok: false; status: 401 | 403; code: string; message: string };

/**
 * Decides whether a request (HTTP or WebSocket upgrade) may proceed.
 * @param token the configured token, or undefined in loopback mode
 */
export function checkAccess(token: string | undefined, headers: { get(name: string): string | null }, url: URL): AccessDecision {
  if (token === undefined) {
    if (!isLoopbackHost(headers.get('host'))) {
      return { ok: false, status: 403, code: 'forbidden_host', message: 'This server only answers requests addressed to a loopback host (localhost, 127.0.0.1, [::1])' };
    }
    if (!isLoopbackOrigin(headers.get('origin'))) {
      return { ok: false, status: 403, code: 'forbidden_origin', message: 'Requests from pages on other sites are refused' };
    }
    return { ok: true, viaQuery: false };
  }
  const presented = presentedToken(headers, url);
  if (presented === undefined) {
    return { ok: false, status: 401, code: 'unauthorized', message: 'A token is required: send "Authorization: Bearer <LOUPE_TOKEN>", or open the app once with ?token=<LOUPE_TOKEN>' };
  }
  if (!safeEqual(presented, token)) return { ok: false, status: 401, code: 'unauthorized', message: 'The token is wrong' };
  return { ok: true, viaQuery: url.searchParams.has('token') };
}
