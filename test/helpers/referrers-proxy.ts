/**
 * The OCI 1.1 referrers API, in front of a real registry. Debian's docker-registry (distribution
 * 2.8) has no referrers API and no registry on this machine has one, so this in-process layer adds
 * it, as the distribution-spec describes, to a real docker-registry on loopback that stores every
 * blob and manifest:
 *
 * - a manifest PUT whose body has a `subject` is forwarded; when the registry stored it (201), the
 *   layer records a referrers-list entry for it and answers with `OCI-Subject: <subject digest>`;
 * - GET /v2/NAME/referrers/DIGEST answers an OCI index of the entries recorded for DIGEST in NAME
 *   (artifactType from the manifest, else its config's media type; its annotations), in pages of
 *   `pageSize` linked by `Link: <…>; rel="next"`, filtered by `?artifactType=` with
 *   `OCI-Filters-Applied: artifactType` unless `filters: false` (a registry that ignores the filter);
 * - everything else passes through, the Host header unchanged (Location headers point back here).
 *
 * It logs every request, which is how tests see that no fallback tag was written.
 */
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { sha } from '../../support/digest.js';

/** How the layer behaves. */
export interface ReferrersProxyOptions {
  /** Entries per page of a referrers answer (default 100). */
  pageSize?: number;
  /** Apply the artifactType filter (default true). */
  filters?: boolean;
}

/** A running referrers layer. */
export interface ReferrersProxy {
  /** "127.0.0.1:PORT" */
  host: string;
  /** Every request: method and path (with query). */
  requests: Array<{ method: string; path: string; status?: number }>;
  close(): Promise<void>;
}

interface Entry {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** Start the layer in front of `upstream` ("127.0.0.1:PORT", plain http). */
export async function startReferrersProxy(upstream: string, opts: ReferrersProxyOptions = {}): Promise<ReferrersProxy> {
  const [uHost, uPort] = upstream.split(':');
  const agent = new Agent({ keepAlive: true });
  const pageSize = opts.pageSize ?? 100;
  // "name subject-digest" -> entries, in push order
  const index = new Map<string, Entry[]>();
  const proxy: ReferrersProxy = {
    host: '',
    requests: [],
    close: async () => {
      server.closeAllConnections();
      agent.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const forward = (req: IncomingMessage, body: Buffer): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const up = httpRequest({ host: uHost, port: Number(uPort), method: req.method, path: req.url, headers: req.headers, agent }, resolve);
      up.once('error', reject);
      up.end(body);
    });

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const method = req.method ?? 'GET';
      const url = new URL(req.url ?? '/', 'http://x');
      const log: ReferrersProxy['requests'][number] = { method, path: req.url ?? '/' };
      proxy.requests.push(log);
      const list = /^\/v2\/(.+)\/referrers\/([a-z0-9]+:[a-f0-9]+)$/.exec(url.pathname);
      if (method === 'GET' && list) {
        const want = url.searchParams.get('artifactType');
        let entries = index.get(`${list[1]} ${list[2]}`) ?? [];
        const filtered = want !== null && opts.filters !== false;
        if (filtered) entries = entries.filter((e) => e.artifactType === want);
        const page = Number(url.searchParams.get('page') ?? '0');
        const slice = entries.slice(page * pageSize, (page + 1) * pageSize);
        const h: Record<string, string> = { 'content-type': 'application/vnd.oci.image.index.v1+json' };
        if (filtered) h['oci-filters-applied'] = 'artifactType';
        if ((page + 1) * pageSize < entries.length) {
          const q = new URLSearchParams(url.searchParams);
          q.set('page', String(page + 1));
          h.link = `<${url.pathname}?${q}>; rel="next"`;
        }
        const b = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: slice });
        h['content-length'] = String(Buffer.byteLength(b));
        log.status = 200;
        res.writeHead(200, h);
        res.end(b);
        return;
      }
      const put = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
      forward(req, body).then(
        (up) => {
          log.status = up.statusCode;
          const headers = { ...up.headers };
          if (method === 'PUT' && put && up.statusCode === 201) {
            const m = JSON.parse(body.toString('utf8')) as {
              mediaType?: string;
              artifactType?: string;
              config?: { mediaType: string };
              subject?: { digest: string };
              annotations?: Record<string, string>;
            };
            if (m.subject) {
              const e: Entry = { mediaType: m.mediaType ?? String(req.headers['content-type']), digest: sha(body), size: body.length };
              const t = m.artifactType ?? m.config?.mediaType;
              if (t) e.artifactType = t;
              if (m.annotations) e.annotations = m.annotations;
              const key = `${put[1]} ${m.subject.digest}`;
              const have = index.get(key) ?? [];
              if (!have.some((x) => x.digest === e.digest)) have.push(e);
              index.set(key, have);
              headers['oci-subject'] = m.subject.digest;
            }
          }
          res.writeHead(up.statusCode ?? 502, headers);
          up.pipe(res);
        },
        () => req.socket.destroy(),
      );
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}
