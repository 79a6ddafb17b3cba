/**
 * What the server counts, for the access log and `--metrics` (GET /metrics, the Prometheus text
 * format 0.0.4): requests by method and status, bytes sent and received, request durations (a
 * histogram), uploads in progress, the store's size, and the mirror's hits and misses.
 *
 * Labels are bounded: the method (the API's seven, else "other") and the status code, never a
 * repository or a path, so a client cannot make the series grow without bound.
 */
import { du, type BlobStore } from '../store/index.js';
import type { MirrorStats } from './mirror.js';

/** One finished request, as the access log writes it. */
export interface RequestRecord {
  time: string;
  remote: string;
  user: string;
  method: string;
  path: string;
  status: number;
  /** Bytes written to the connection for this answer (headers included). */
  bytes: number;
  /** Bytes of request body read. */
  received: number;
  ms: number;
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** Upper bounds of the duration histogram, seconds. */
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** One access log line: text (`--log-format text`) or a JSON object (`json`). */
export function formatAccessLine(r: RequestRecord, format: 'text' | 'json'): string {
  if (format === 'json') return JSON.stringify(r);
  // The path is quoted as JSON: whatever a client sent cannot forge a second line or a field.
  return `${r.time} ${r.remote} ${r.user} ${r.method} ${JSON.stringify(r.path)} ${r.status} ${r.bytes} ${r.ms.toFixed(1)}ms`;
}

export class Metrics {
  readonly #requests = new Map<string, number>();
  #sent = 0;
  #received = 0;
  readonly #buckets = new Array<number>(BUCKETS.length).fill(0);
  #count = 0;
  #sum = 0;

  constructor(
    private readonly store: BlobStore,
    private readonly uploadsOpen: () => number,
    private readonly mirror: MirrorStats | undefined,
  ) {}

  record(r: RequestRecord): void {
    const key = `${METHODS.has(r.method) ? r.method : 'other'} ${r.status}`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    this.#sent += r.bytes;
    this.#received += r.received;
    const s = r.ms / 1000;
    this.#count++;
    this.#sum += s;
    BUCKETS.forEach((b, i) => {
      if (s <= b) this.#buckets[i]!++;
    });
  }

  /** The Prometheus text exposition. */
  render(): string {
    const out: string[] = [];
    const metric = (name: string, type: string, help: string, lines: string[]): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
    };
    metric(
      'ocikit_serve_requests_total',
      'counter',
      'Requests answered, by method and status code.',
      [...this.#requests].sort().map(([k, v]) => {
        const [method, code] = k.split(' ');
        return `ocikit_serve_requests_total{method="${method}",code="${code}"} ${v}`;
      }),
    );
    metric('ocikit_serve_sent_bytes_total', 'counter', 'Bytes written to clients (headers included).', [`ocikit_serve_sent_bytes_total ${this.#sent}`]);
    metric('ocikit_serve_received_bytes_total', 'counter', 'Request body bytes read from clients.', [`ocikit_serve_received_bytes_total ${this.#received}`]);
    metric('ocikit_serve_request_duration_seconds', 'histogram', 'Time from a request to the end of its answer.', [
      ...BUCKETS.map((b, i) => `ocikit_serve_request_duration_seconds_bucket{le="${b}"} ${this.#buckets[i]}`),
      `ocikit_serve_request_duration_seconds_bucket{le="+Inf"} ${this.#count}`,
      `ocikit_serve_request_duration_seconds_sum ${this.#sum}`,
      `ocikit_serve_request_duration_seconds_count ${this.#count}`,
    ]);
    metric('ocikit_serve_uploads_in_progress', 'gauge', 'Upload sessions open.', [`ocikit_serve_uploads_in_progress ${this.uploadsOpen()}`]);
    const usage = du(this.store);
    metric('ocikit_store_blobs', 'gauge', 'Blobs in the store.', [`ocikit_store_blobs ${usage.blobs}`]);
    metric('ocikit_store_bytes', 'gauge', 'Bytes of the blobs in the store.', [`ocikit_store_bytes ${usage.bytes}`]);
    if (this.mirror) {
      metric('ocikit_serve_mirror_hits_total', 'counter', 'Mirrored pulls answered from the store.', [`ocikit_serve_mirror_hits_total ${this.mirror.hits}`]);
      metric('ocikit_serve_mirror_misses_total', 'counter', 'Mirrored pulls fetched from the upstream.', [`ocikit_serve_mirror_misses_total ${this.mirror.misses}`]);
      metric('ocikit_serve_mirror_errors_total', 'counter', 'Upstream fetches that failed.', [`ocikit_serve_mirror_errors_total ${this.mirror.errors}`]);
    }
    return out.join('\n') + '\n';
  }
}
