/**
 * A page to browse the registry in a web browser, read-only: `/` lists the repositories the
 * visitor may pull with their tags (platforms, size, creation date, what refers to each image) and
 * a search; `/ui/image?repo=R&ref=TAG|DIGEST` shows one image or index: its platforms, layers, and
 * referrers (signatures, SBOMs, any artifact) with their artifact types and annotations.
 *
 * Rendered on the server as plain HTML (no script, nothing fetched from elsewhere; the
 * Content-Security-Policy forbids both), so it works in any browser and nothing a pushed manifest
 * says can run in the visitor's: every text from the store (names, annotations, media types) is
 * escaped. Behind the same users and rights as the API; a browser logs in with Basic credentials
 * (`/ui/login` asks for them when anonymous visitors may see some repositories).
 *
 * Facts about an image (its config's creation date and platform, its size) are read once per
 * digest and cached, as repository.ts does for manifests.
 */
import type { ServerResponse } from 'node:http';
import type { Digest } from '../digest/index.js';
import { MAX_MANIFEST_SIZE, parseManifest, type Descriptor, type Platform } from '../manifest/index.js';
import { resolveStoreName, servedRepositories, servedTags } from '../transports/store/names.js';
import type { ApiContext } from './api.js';
import type { ManifestFacts } from './repository.js';

/** What a row of the page says about one manifest. */
interface ImageFacts {
  kind: 'image' | 'index';
  mediaType: string;
  /** "linux/amd64", … (an index: each child's). */
  platforms: string[];
  /** Bytes of the manifest and everything it names (an index: with its children's). */
  size: number;
  /** The config's `created` (an index: the newest child's). */
  created: string | undefined;
  /** An image's layers; an index's children. */
  parts: Array<Descriptor & { platformText?: string }>;
}

const CACHE_MAX = 5_000;

/** Everything the pages need, with a per-digest cache. */
export class Browse {
  readonly #facts = new Map<Digest, ImageFacts | null>();

  constructor(private readonly c: ApiContext) {}

  async #image(digest: Digest): Promise<ImageFacts | undefined> {
    const known = this.#facts.get(digest);
    if (known !== undefined) return known ?? undefined;
    let facts: ImageFacts | null;
    try {
      const parsed = parseManifest(await this.c.store.readBytes(digest, MAX_MANIFEST_SIZE));
      if (parsed.kind === 'oci-index' || parsed.kind === 'docker-list') {
        const children = parsed.value.manifests as Descriptor[];
        const subs = await Promise.all(children.map((d) => this.#image(d.digest)));
        facts = {
          kind: 'index',
          mediaType: parsed.mediaType,
          platforms: children.filter((d) => d.platform).map((d) => platformText(d.platform!)),
          size: parsed.bytes.length + subs.reduce((n, s, i) => n + (s?.size ?? children[i]!.size), 0),
          created: subs
            .map((s) => s?.created)
            .filter((x): x is string => x !== undefined)
            .sort()
            .pop(),
          parts: children.map((d) => ({ ...d, ...(d.platform ? { platformText: platformText(d.platform) } : {}) })),
        };
      } else {
        const v = parsed.value;
        let config: { created?: unknown; os?: unknown; architecture?: unknown; variant?: unknown } = {};
        try {
          config = JSON.parse((await this.c.store.readBytes(v.config.digest, 1 << 20)).toString('utf8')) as typeof config;
        } catch {
          // An artifact's config, or one not in the store: no date, no platform.
        }
        const platform =
          typeof config.os === 'string' && typeof config.architecture === 'string'
            ? platformText({ os: config.os, architecture: config.architecture, ...(typeof config.variant === 'string' ? { variant: config.variant } : {}) })
            : undefined;
        facts = {
          kind: 'image',
          mediaType: parsed.mediaType,
          platforms: platform ? [platform] : [],
          size: parsed.bytes.length + v.config.size + v.layers.reduce((n, l) => n + l.size, 0),
          created: typeof config.created === 'string' ? config.created : undefined,
          parts: v.layers,
        };
      }
    } catch {
      facts = null;
    }
    if (this.#facts.size >= CACHE_MAX) this.#facts.clear();
    this.#facts.set(digest, facts);
    return facts ?? undefined;
  }

  /** `/`: the repositories `mayList` allows, their tags, filtered by the search text `q`. */
  async index(res: ServerResponse, q: string, mayList: (repository: string) => boolean, who: string | undefined): Promise<void> {
    const needle = q.trim().toLowerCase();
    const sections: string[] = [];
    let shown = 0;
    for (const repo of servedRepositories(this.c.store).filter(mayList)) {
      const held = await this.c.manifests.manifestsOf(repo);
      const rows: string[] = [];
      for (const tag of servedTags(this.c.store, repo) ?? []) {
        if (needle !== '' && !`${repo}:${tag}`.toLowerCase().includes(needle)) continue;
        const digest = resolveStoreName(this.c.store, repo, { tag })?.digest;
        if (digest === undefined) continue;
        const f = await this.#image(digest);
        const refs = referrersOf(held, digest);
        rows.push(
          `<tr><td><a href="${imageLink(repo, tag)}">${esc(tag)}</a></td><td><code title="${esc(digest)}">${esc(digest.slice(7, 19))}</code></td><td>${f ? f.kind : '?'}</td><td>${esc(f?.platforms.join(', ') ?? '')}</td><td class="n">${f ? humanSize(f.size) : ''}</td><td>${esc(dateText(f?.created))}</td><td>${referrersText(refs)}</td></tr>`,
        );
      }
      if (rows.length === 0 && needle !== '' && !repo.includes(needle)) continue;
      shown++;
      sections.push(
        `<section><h2>${esc(repo)}</h2><table><thead><tr><th>tag</th><th>digest</th><th>kind</th><th>platforms</th><th>size</th><th>created</th><th>referrers</th></tr></thead><tbody>${rows.join('') || '<tr><td colspan="7">no tags (by digest only)</td></tr>'}</tbody></table></section>`,
      );
    }
    const body = `<form method="get" action="/"><input type="search" name="q" value="${esc(q)}" placeholder="search repositories and tags" aria-label="search"> <button type="submit">search</button></form>
<p class="count">${shown} ${shown === 1 ? 'repository' : 'repositories'}${needle ? ` matching <b>${esc(q)}</b>` : ''}</p>${sections.join('\n') || '<p>Nothing to show.</p>'}`;
    page(res, 200, 'repositories', body, who);
  }

  /** `/ui/image`: one manifest of `repo` (a tag or a digest the repository holds); 404 otherwise. */
  async image(res: ServerResponse, repo: string, ref: string, who: string | undefined): Promise<void> {
    const held = await this.c.manifests.manifestsOf(repo);
    const digest = ref.includes(':') ? (held.has(ref) ? (ref as Digest) : undefined) : resolveStoreName(this.c.store, repo, { tag: ref })?.digest;
    const f = digest !== undefined ? await this.#image(digest) : undefined;
    if (digest === undefined || !f) {
      page(res, 404, 'not found', `<p>No manifest <code>${esc(repo)}${ref.includes(':') ? '@' : ':'}${esc(ref)}</code> here.</p><p><a href="/">all repositories</a></p>`, who);
      return;
    }
    const parts =
      f.kind === 'index'
        ? `<h3>platforms</h3><table><thead><tr><th>platform</th><th>digest</th><th>media type</th><th>size</th></tr></thead><tbody>${f.parts
            .map(
              (p) =>
                `<tr><td>${esc(p.platformText ?? '')}</td><td><a href="${imageLink(repo, p.digest)}"><code>${esc(p.digest)}</code></a></td><td>${esc(p.mediaType)}</td><td class="n">${humanSize(p.size)}</td></tr>`,
            )
            .join('')}</tbody></table>`
        : `<h3>layers</h3><table><thead><tr><th>#</th><th>digest</th><th>media type</th><th>size</th></tr></thead><tbody>${f.parts
            .map((p, i) => `<tr><td>${i + 1}</td><td><code>${esc(p.digest)}</code></td><td>${esc(p.mediaType)}</td><td class="n">${humanSize(p.size)}</td></tr>`)
            .join('')}</tbody></table>`;
    const refs = referrersOf(held, digest);
    const referrers =
      refs.length === 0
        ? '<p>Nothing refers to this manifest.</p>'
        : `<table class="referrers"><thead><tr><th>artifact type</th><th>digest</th><th>size</th><th>annotations</th></tr></thead><tbody>${refs
            .map(
              (r) =>
                `<tr><td>${esc(r.descriptor.artifactType ?? '')}</td><td><a href="${imageLink(repo, r.digest)}"><code>${esc(r.digest)}</code></a></td><td class="n">${humanSize(r.size)}</td><td>${Object.entries(
                  r.descriptor.annotations ?? {},
                )
                  .map(([k, v]) => `${esc(k)}=${esc(v)}`)
                  .join('<br>')}</td></tr>`,
            )
            .join('')}</tbody></table>`;
    const body = `<p><a href="/">all repositories</a></p>
<dl><dt>digest</dt><dd><code>${esc(digest)}</code></dd><dt>media type</dt><dd>${esc(f.mediaType)}</dd><dt>platforms</dt><dd>${esc(f.platforms.join(', ') || '-')}</dd><dt>size</dt><dd>${humanSize(f.size)}</dd><dt>created</dt><dd>${esc(dateText(f.created) || '-')}</dd></dl>
${parts}<h3>referrers</h3>${referrers}`;
    page(res, 200, `${repo}${ref.includes(':') ? '@' : ':'}${ref}`, body, who);
  }
}

function referrersOf(held: Map<Digest, ManifestFacts>, subject: Digest): ManifestFacts[] {
  return [...held.values()].filter((m) => m.subject === subject).sort((a, b) => (a.digest < b.digest ? -1 : 1));
}

function referrersText(refs: ManifestFacts[]): string {
  if (refs.length === 0) return '';
  const types = new Map<string, number>();
  for (const r of refs) types.set(r.descriptor.artifactType ?? 'other', (types.get(r.descriptor.artifactType ?? 'other') ?? 0) + 1);
  return [...types].map(([t, n]) => `${n} × ${esc(t)}`).join('<br>');
}

function platformText(p: Platform): string {
  return `${p.os}/${p.architecture}${p.variant ? `/${p.variant}` : ''}`;
}

function imageLink(repo: string, ref: string): string {
  return `/ui/image?repo=${encodeURIComponent(repo)}&amp;ref=${encodeURIComponent(ref)}`;
}

function dateText(iso: string | undefined): string {
  if (iso === undefined) return '';
  const t = Date.parse(iso);
  return Number.isNaN(t)
    ? iso.slice(0, 40)
    : new Date(t)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, ' UTC');
}

export function humanSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Text as HTML (element content and attribute values alike). */
function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:.8em 1.5em}header a{color:#fff;text-decoration:none;font-weight:600}header span{float:right;opacity:.8}
main{padding:1em 1.5em;max-width:80em}section{background:#fff;border:1px solid #dde1e7;border-radius:6px;padding:.4em 1em 1em;margin:1em 0}
h2{font-size:1.1em;margin:.6em 0}table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #eceef2;vertical-align:top}
th{font-weight:600;color:#5b6475}code{font:12px ui-monospace,monospace}input[type=search]{width:24em;padding:.35em}dl{display:grid;grid-template-columns:8em auto;gap:.2em}
dt{color:#5b6475}dd{margin:0}td.n{white-space:nowrap}.count{color:#5b6475}pre{background:#fff;border:1px solid #dde1e7;padding:.6em}`;

function page(res: ServerResponse, status: number, title: string, body: string, who: string | undefined): void {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${esc(title)} · ocikit registry</title><style>${STYLE}</style></head>
<body><header><a href="/">ocikit registry</a><span>${who !== undefined ? `signed in as ${esc(who)}` : '<a href="/ui/login">sign in</a>'}</span></header><main><h1>${esc(title)}</h1>
${body}</main></body></html>
`;
  const b = Buffer.from(html);
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': String(b.length),
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-store',
  });
  res.end(b);
}
