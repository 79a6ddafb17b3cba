/**
 * An HTTP proxy on a unix socket in front of a real Docker daemon's socket, to inject the faults a
 * daemon shows when it dies or a connection drops: an export cut short (connection dropped, or the
 * response ended cleanly after N bytes), an export held after N bytes until the test has acted
 * (killed the daemon, removed the image), a load whose request body is cut after N bytes.
 * Point ocikit at it with DOCKER_HOST=unix://<proxy.socket>.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** What to do with one request. */
export type DaemonFault =
  | { kind: 'pass' }
  /** Forward; after `bytes` bytes of the response body, destroy the connection (no chunked terminator). */
  | { kind: 'cut'; bytes: number }
  /** Forward; after `bytes` bytes of the response body, end the response cleanly: a complete HTTP answer with a truncated tar. */
  | { kind: 'truncate'; bytes: number }
  /**
   * Forward `bytes` bytes of the response body, then stop and call `then()`; afterwards, send the
   * rest if the daemon still sends it, or drop the connection when the daemon's side closed early.
   */
  | { kind: 'hold'; bytes: number; then: () => Promise<void> }
  /** Forward `bytes` bytes of the request body to the daemon, then drop both connections. */
  | { kind: 'cut-request'; bytes: number };

export interface DaemonProxy {
  /** "unix:///tmp/…/p.sock" */
  host: string;
  /** Decides each request's fault; `path` is the request path with query. */
  rule: (req: { method: string; path: string }) => DaemonFault;
  /** Requests seen, as "METHOD PATH". */
  seen: string[];
  close(): Promise<void>;
}

/** Start a proxy in front of the daemon listening on `upstreamSocket`. */
export async function startDaemonProxy(upstreamSocket: string): Promise<DaemonProxy> {
  const dir = mkdtempSync('/tmp/okp-');
  const sock = join(dir, 'p.sock');
  const proxy: DaemonProxy = {
    host: `unix://${sock}`,
    rule: () => ({ kind: 'pass' }),
    seen: [],
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    proxy.seen.push(`${method} ${path}`);
    const fault = proxy.rule({ method, path });
    const up = httpRequest({ socketPath: upstreamSocket, method, path, headers: req.headers }, (ures) => {
      const headers = { ...ures.headers };
      if (fault.kind === 'truncate') delete headers['content-length'];
      res.writeHead(ures.statusCode ?? 502, headers);
      if (fault.kind === 'pass' || fault.kind === 'cut-request') {
        ures.pipe(res);
        return;
      }
      let sent = 0;
      let stopped = false;
      /** After a hold is released, everything passes. */
      let released = false;
      let upstreamEnded = false;
      let upstreamFailed = false;
      const held: Buffer[] = [];
      ures.on('data', (c: Buffer) => {
        if (stopped) {
          held.push(c);
          return;
        }
        if (released) {
          res.write(c);
          return;
        }
        const room = fault.bytes - sent;
        if (c.length < room) {
          res.write(c);
          sent += c.length;
          return;
        }
        if (room > 0) res.write(c.subarray(0, room));
        sent = fault.bytes;
        stopped = true;
        if (c.length > room) held.push(c.subarray(room));
        if (fault.kind === 'cut') {
          ures.destroy();
          setTimeout(() => req.socket.destroy(), 20);
        } else if (fault.kind === 'truncate') {
          ures.destroy();
          setTimeout(() => res.end(), 20);
        } else {
          ures.pause();
          void fault.then().finally(() => {
            // The daemon may have died meanwhile: its socket closes, and so does ours.
            setTimeout(() => {
              if (upstreamFailed) {
                req.socket.destroy();
                return;
              }
              for (const h of held) res.write(h);
              held.length = 0;
              stopped = false;
              released = true;
              ures.resume();
              if (upstreamEnded) res.end();
            }, 200);
          });
        }
      });
      ures.on('end', () => {
        upstreamEnded = true;
        if (!stopped) res.end();
      });
      // The daemon's side broke (it died): pass that on now, or when a hold is released. (While
      // held, reading is paused and the break may only show once it resumes.)
      const broke = (): void => {
        if (upstreamEnded) return;
        upstreamFailed = true;
        if (!stopped) req.socket.destroy();
      };
      ures.on('error', broke);
      ures.on('aborted', broke);
      ures.socket.on('close', broke);
    });
    up.on('error', () => req.socket.destroy());
    if (fault.kind === 'cut-request') {
      let n = 0;
      req.on('data', (c: Buffer) => {
        if (n >= fault.bytes) return;
        const part = c.subarray(0, fault.bytes - n);
        up.write(part);
        n += part.length;
        if (n >= fault.bytes) {
          setTimeout(() => {
            up.destroy();
            req.socket.destroy();
          }, 50);
        }
      });
      req.on('end', () => undefined);
      return;
    }
    req.pipe(up);
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(sock, () => resolve());
  });
  return proxy;
}
