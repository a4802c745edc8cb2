import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import {
  ResponseContext, SelfDecodingBody, wrapHttpLibrary, type HttpLibrary, type RequestBody, type RequestContext,
} from '@kubernetes/client-node';

/**
 * client-node's default HTTP library is node-fetch 2, whose check for a badly ended chunked response
 * misfires on keep-alive sockets: when a queued request takes over the socket the moment a chunked
 * response ends, node-fetch fails that complete response with "Premature close" (node-fetch#1767, open).
 * With a pooled agent this failed nearly every API call queued behind the socket limit (32 reconciles
 * in one 50-node enrollment). This library sends the same requests with node:http(s) and reads the body
 * itself, so a response is complete when its 'end' arrives, whoever uses the socket next. On Node.js 24
 * the misfire no longer reproduces in node-http-library.test.ts's load (it did on 20); the library stays
 * because node-fetch#1767 is still open and this one is small and tested on that same load.
 */
export const nodeHttpLibrary: HttpLibrary = wrapHttpLibrary({ send: sendRequest });

export async function sendRequest(ctx: RequestContext): Promise<ResponseContext> {
  const url = new URL(ctx.getUrl());
  const body = requestBody(ctx.getBody());
  const headers: Record<string, string> = { ...ctx.getHeaders() };
  if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const res = await new Promise<IncomingMessage>((resolve, reject) => {
    const req = send(url, { method: ctx.getHttpMethod(), headers, agent: ctx.getAgent(), signal: ctx.getSignal() }, resolve);
    req.once('error', reject);
    req.end(body);
  });
  const data = readAll(res);
  data.catch(() => undefined); // a body nobody reads must not become an unhandled rejection
  return new ResponseContext(res.statusCode ?? 0, flatHeaders(res.headers), new SelfDecodingBody(data));
}

function requestBody(body: RequestBody): string | undefined {
  if (body === undefined || typeof body === 'string') return body;
  if (body instanceof URLSearchParams) return body.toString();
  throw new TypeError('multipart request bodies are not supported by the operator\'s Kubernetes client');
}

async function readAll(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function flatHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return flat;
}
