/**
 * The Node HTTP server under the Hono app (Node entry only). @hono/node-server
 * builds a `Request` URL from the Host header and the request target, and
 * answers a bodiless text/plain 400 when it cannot; requests it would refuse
 * are answered here first, with the API's JSON error body.
 */
import { createServer, type IncomingMessage, type RequestListener, type ServerOptions, type ServerResponse } from 'node:http';
import { isValidHostHeader } from './auth.ts';
import { errorBody } from './errors.ts';

function refuse(res: ServerResponse, code: string, message: string): void {
  const body = JSON.stringify(errorBody(code, message, [{ field: code === 'invalid_host' ? 'host' : 'path', message }]));
  res.writeHead(400, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), connection: 'close' });
  res.end(body);
}

/** Wraps a request listener so that a malformed Host or request target is a JSON 400. */
export function guardRequests(listener: RequestListener): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (!isValidHostHeader(req.headers.host)) return refuse(res, 'invalid_host', 'The Host header is missing or malformed');
    const target = req.url ?? '';
    if (!target.startsWith('/') || target.includes('\\')) return refuse(res, 'invalid_path', 'The request target must be a path starting with "/" and without "\\"');
    return listener(req, res);
  };
}

/** `createServer` for @hono/node-server's `serve`: a plain HTTP server whose requests pass {@link guardRequests} first. */
export function createGuardedServer(options: ServerOptions, listener: RequestListener) {
  return createServer(options, guardRequests(listener));
}
