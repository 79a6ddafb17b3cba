/**
 * A loopback HTTP proxy between ocikit and a real (plain-http) registry that injects faults per
 * request: connection resets, stalls, truncated bodies, 429/503 with Retry-After, 500. It forwards
 * the Host header unchanged, so the registry's Location headers point back at the proxy.
 *
 * It also logs every request it parsed (a TLS hello from a client probing for https is not one),
 * which is how tests count requests, and can page a tag list the way newer registries do (the
 * registry under test, distribution 2.8, does not paginate tags).
 */
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What to do with one request. */
export type Fault =
  | { kind: 'pass' }
  /** Destroy the connection without answering. */
  | { kind: 'reset' }
  /** Forward, then destroy the connection after `bytes` bytes of the body. */
  | { kind: 'reset-after'; bytes: number }
  /** Forward the headers (full Content-Length), send `bytes` bytes of the body, then close cleanly. */
  | { kind: 'truncate'; bytes: number }
  /** Say nothing for `ms` (then forward), or forever. */
  | { kind: 'stall'; ms?: number }
  /** Forward headers and `bytes` bytes of the body, then stall forever. */
  | { kind: 'stall-body'; bytes: number }
  /** Answer `status` without asking the registry. */
  | { kind: 'status'; status: number; retryAfter?: string; body?: string }
  /** Forward, replacing the answer's body with `body` (same status, corrected Content-Length). */
  | { kind: 'replace-body'; body: Buffer }
  /** Forward with every body byte inverted: same length, other content. */
  | { kind: 'corrupt' }
  /** Answer a tags/list GET with pages of `pageSize`, linked by Link: rel="next" (n/last as distribution 3). */
  | { kind: 'paginate-tags'; pageSize: number }
  /** Forward to another path and query (a mount request without `mount=`: a registry that refuses mounts and opens an upload instead). */
  | { kind: 'rewrite'; path: string };

/** One request as the proxy saw it. */
export interface ProxiedRequest {
  method: string;
  /** Path and query. */
  path: string;
  headers: IncomingMessage['headers'];
  /** The fault applied. */
  fault: Fault['kind'];
  /** The status sent to the client, when one was. */
  status?: number;
  /** When the request arrived and when its answer was finished or abandoned (ms since the epoch). */
  start: number;
  end?: number;
}

/** The most requests matching `match` that were in flight at once. */
export function peakConcurrency(requests: ProxiedRequest[], match: (r: ProxiedRequest) => boolean): number {
  const edges: Array<[number, number]> = [];
  for (const r of requests.filter(match)) edges.push([r.start, 1], [r.end ?? Infinity, -1]);
  // Ends before starts at the same instant: touching intervals do not overlap.
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let peak = 0;
  for (const [, d] of edges) peak = Math.max(peak, (cur += d));
  return peak;
}

/** Decides the fault of each request; `n` counts requests from 0. */
export type FaultRule = (req: { method: string; path: string; headers: IncomingMessage['headers']; n: number }) => Fault;

/** A running fault proxy. */
export interface FaultProxy {
  /** "127.0.0.1:PORT" */
  host: string;
  requests: ProxiedRequest[];
  /** The rule deciding each request's fault; replace it between tests. */
  rule: FaultRule;
  close(): Promise<void>;
}

const PASS: FaultRule = () => ({ kind: 'pass' });

/** Start a proxy in front of `upstream` ("127.0.0.1:PORT", plain http). */
export async function startFaultProxy(upstream: string, rule: FaultRule = PASS): Promise<FaultProxy> {
  const [uHost, uPort] = upstream.split(':');
  const agent = new Agent({ keepAlive: true });
  const stalled = new Set<ServerResponse>();
  let n = 0;
  const proxy: FaultProxy = {
    host: '',
    requests: [],
    rule,
    close: async () => {
      for (const r of stalled) r.destroy();
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const forward = (req: IncomingMessage, body: Buffer, path = req.url ?? '/'): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const up = httpRequest({ host: uHost, port: Number(uPort), method: req.method, path, headers: req.headers, agent }, resolve);
      up.once('error', reject);
      up.end(body);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const fault = proxy.rule({ method, path, headers: req.headers, n: n++ });
    const entry: ProxiedRequest = { method, path, headers: req.headers, fault: fault.kind, start: Date.now() };
    proxy.requests.push(entry);
    res.once('close', () => (entry.end = Date.now()));
    switch (fault.kind) {
      case 'reset':
        req.socket.destroy();
        return;
      case 'status': {
        const h: Record<string, string> = { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' };
        if (fault.retryAfter !== undefined) h['retry-after'] = fault.retryAfter;
        const b = fault.body ?? JSON.stringify({ errors: [{ code: fault.status === 429 ? 'TOOMANYREQUESTS' : 'UNAVAILABLE', message: 'injected fault' }] });
        h['content-length'] = String(Buffer.byteLength(b));
        entry.status = fault.status;
        res.writeHead(fault.status, h);
        res.end(b);
        return;
      }
      case 'stall':
        stalled.add(res);
        if (fault.ms === undefined) return;
        await new Promise((r) => setTimeout(r, fault.ms));
        stalled.delete(res);
        if (res.destroyed) return;
        break;
      case 'paginate-tags': {
        const u = new URL(path, 'http://x');
        const up = await forward(req, body, u.pathname);
        const chunks: Buffer[] = [];
        for await (const c of up) chunks.push(c as Buffer);
        const all = ((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { tags?: string[] }).tags ?? []).sort();
        const last = u.searchParams.get('last');
        const rest = last ? all.filter((t) => t > last) : all;
        const page = rest.slice(0, fault.pageSize);
        const h: Record<string, string> = { 'content-type': 'application/json' };
        if (rest.length > page.length) h.link = `<${u.pathname}?n=${fault.pageSize}&last=${encodeURIComponent(page[page.length - 1]!)}>; rel="next"`;
        const b = JSON.stringify({ name: u.pathname.split('/').slice(2, -2).join('/'), tags: page });
        h['content-length'] = String(Buffer.byteLength(b));
        entry.status = 200;
        res.writeHead(200, h);
        res.end(b);
        return;
      }
      default:
        break;
    }

    let up: IncomingMessage;
    try {
      up = await forward(req, body, fault.kind === 'rewrite' ? fault.path : path);
    } catch {
      req.socket.destroy();
      return;
    }
    entry.status = up.statusCode;
    if (fault.kind === 'replace-body') {
      up.resume();
      const h = { ...up.headers, 'content-length': String(fault.body.length) };
      res.writeHead(up.statusCode ?? 502, h);
      res.end(fault.body);
      return;
    }
    res.writeHead(up.statusCode ?? 502, up.headers);
    if (fault.kind === 'corrupt') {
      up.on('data', (c: Buffer) => res.write(Buffer.from(c.map((b) => b ^ 0xff))));
      up.on('end', () => res.end());
      return;
    }
    if (fault.kind === 'pass' || fault.kind === 'stall' || fault.kind === 'rewrite') {
      up.pipe(res);
      return;
    }
    // reset-after / truncate / stall-body: count body bytes and act at the limit.
    const limit = fault.bytes;
    let sent = 0;
    let done = false;
    up.on('data', (c: Buffer) => {
      if (done) return;
      const room = limit - sent;
      if (c.length < room) {
        res.write(c);
        sent += c.length;
        return;
      }
      if (room > 0) res.write(c.subarray(0, room));
      sent = limit;
      done = true;
      up.destroy();
      if (fault.kind === 'reset-after') {
        // Let the bytes leave, then cut the connection.
        setTimeout(() => req.socket.destroy(), 20);
      } else if (fault.kind === 'truncate') {
        setTimeout(() => req.socket.end(), 20);
      } else {
        stalled.add(res);
      }
    });
    up.on('end', () => {
      if (!done) res.end();
    });
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch(() => req.socket.destroy());
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
