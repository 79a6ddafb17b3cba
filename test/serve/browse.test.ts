/**
 * The page to browse `ocikit serve`, loaded in a real browser (Debian's headless Chromium through
 * playwright-core): repositories, tags, platforms, sizes, creation dates, layers and referrers,
 * search, and the same users and rights as the API. A screenshot of each page is kept in the
 * test's temp dir (its path is printed; OCIKIT_KEEP_TMP=1 keeps it after the run).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { ocikit } from '../helpers/cli.js';
import { artifact, blob } from '../helpers/artifacts.js';
import { startBrowser } from '../helpers/browser.js';
import { fixture, tempDir } from '../helpers/paths.js';
import { requirePeer } from '../../support/peers.js';
import { startServe, type ServeHandle } from '../helpers/serve.js';

const SPDX = 'application/spdx+json';
const SIG = 'application/vnd.dev.cosign.artifact.sig.v1+json';

describe('ocikit serve: the browse page in headless Chromium', () => {
  let dir: string;
  let srv: ServeHandle;
  let context: BrowserContext;
  let page: Page;
  let image: { digest: string; mediaType: string; size: number };

  const as = async (user: string | undefined): Promise<void> => {
    await context.setExtraHTTPHeaders(user ? { Authorization: `Basic ${Buffer.from(`${user}:${user}-pw`).toString('base64')}` } : {});
  };
  const shot = async (name: string): Promise<void> => {
    const path = join(dir, `${name}.png`);
    await page.screenshot({ path, fullPage: true });
    console.log(`# screenshot: ${path}`);
  };

  before(async () => {
    dir = tempDir('ocikit-serve-browse-');
    const store = join(dir, 'store');
    for (const [src, name] of [
      [`oci:${fixture('hello-oci')}:latest`, 'store:team/app:1.0'],
      [`oci:${fixture('multiarch-oci')}:latest`, 'store:team/multi:2'],
      [`oci:${fixture('hello-oci')}:latest`, 'store:public/hello:latest'],
      [`oci:${fixture('hello-oci')}:latest`, 'store:secret/x:1'],
    ]) {
      const r = ocikit(['--store', store, 'copy', '-q', '--all', src!, name!]);
      assert.equal(r.code, 0, r.stderr);
    }
    const htpasswd = requirePeer('htpasswd');
    writeFileSync(join(dir, 'htpasswd'), ['alice', 'carol', 'bob'].map((u) => spawnSync(htpasswd, ['-Bbn', u, `${u}-pw`], { encoding: 'utf8' }).stdout.trim()).join('\n') + '\n');
    writeFileSync(join(dir, 'access.yaml'), 'admins: [alice]\nrepositories:\n  - match: "team/**"\n    pull: [carol]\n    push: [bob]\n  - match: "public/*"\n    pull: [anonymous]\n');
    srv = await startServe(store, ['--htpasswd', join(dir, 'htpasswd'), '--access', join(dir, 'access.yaml'), '--auth', 'basic']);
    // Referrers of team/app:1.0, pushed as a client would: an SBOM and a signature.
    const head = await fetch(`${srv.url}/v2/team/app/manifests/1.0`, { method: 'HEAD', headers: { Authorization: `Basic ${Buffer.from('bob:bob-pw').toString('base64')}` } });
    image = { digest: head.headers.get('docker-content-digest')!, mediaType: head.headers.get('content-type')!, size: Number(head.headers.get('content-length')) };
    const sbom = artifact({
      artifactType: SPDX,
      layers: [blob(SPDX, '{"spdxVersion":"SPDX-2.3"}')],
      subject: image,
      annotations: { 'org.opencontainers.image.created': '2026-12-01T10:00:00Z', 'org.example.note': '<img src=x onerror=alert(1)>' },
    });
    const sig = artifact({ artifactType: SIG, layers: [blob('application/vnd.dev.cosign.simplesigning.v1+json', '{"critical":{}}')], subject: image });
    const bob = { Authorization: `Basic ${Buffer.from('bob:bob-pw').toString('base64')}` };
    for (const m of [sbom, sig]) {
      for (const [d, b] of m.blobs) {
        const r = await fetch(`${srv.url}/v2/team/app/blobs/uploads/?digest=${d}`, { method: 'POST', headers: { ...bob, 'content-type': 'application/octet-stream' }, body: b });
        assert.equal(r.status, 201, await r.text());
      }
      const r = await fetch(`${srv.url}/v2/team/app/manifests/${m.digest}`, { method: 'PUT', headers: { ...bob, 'content-type': m.mediaType }, body: m.bytes });
      assert.equal(r.status, 201, await r.text());
    }
    ({ context } = await startBrowser());
    page = context.pages()[0] ?? (await context.newPage());
  });
  after(async () => {
    await context?.close();
    await srv?.stop();
  });

  it('an admin sees every repository with tags, platforms, sizes, dates and referrers; an image page lists layers and referrers', async () => {
    await as('alice');
    const res = await page.goto(`${srv.url}/`);
    assert.equal(res?.status(), 200);
    const text = await page.locator('main').innerText();
    for (const repo of ['public/hello', 'secret/x', 'team/app', 'team/multi']) assert.match(text, new RegExp(repo));
    assert.equal(await page.locator('header span').innerText(), 'signed in as alice');
    // The multi-platform index: its platforms; the image: its platform, size, creation date, referrers.
    const multi = await page.locator('section', { hasText: 'team/multi' }).innerText();
    assert.match(multi, /index/);
    assert.match(multi, /linux\/amd64/);
    assert.match(multi, /linux\/arm64/);
    const app = await page.locator('section', { hasText: 'team/app' }).first().innerText();
    assert.match(app, /1\.0\s+\S+\s+image\s+linux\/amd64\s+[\d.]+ (B|KiB)\s+\d{4}-\d\d-\d\d/);
    assert.match(app, new RegExp(`1 × ${SPDX.replace(/[+.]/g, '\\$&')}`));
    await shot('index-admin');

    await page.getByRole('link', { name: '1.0' }).first().click();
    await page.waitForURL(/\/ui\/image\?repo=team%2Fapp&ref=1\.0/);
    const detail = await page.locator('main').innerText();
    assert.match(detail, new RegExp(image.digest));
    assert.match(detail, /layers/);
    assert.match(detail, /application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip/);
    assert.match(detail, new RegExp(SPDX.replace(/[+.]/g, '\\$&')));
    assert.match(detail, new RegExp(SIG.replace(/[+.]/g, '\\$&')));
    assert.match(detail, /org\.opencontainers\.image\.created=2026-12-01T10:00:00Z/);
    // What a pushed manifest says is shown as text, never as markup.
    assert.match(detail, /org\.example\.note=<img src=x onerror=alert\(1\)>/);
    assert.equal(await page.locator('main img').count(), 0);
    await shot('image-admin');
  });

  it('search narrows the list; a pull-only user sees only what they may pull; anonymous visitors only public/', async () => {
    await as('alice');
    await page.goto(`${srv.url}/`);
    await page.getByRole('searchbox', { name: 'search' }).fill('multi');
    await page.getByRole('button', { name: 'search' }).click();
    await page.waitForURL(/\?q=multi/);
    const found = await page.locator('section h2').allInnerTexts();
    assert.deepEqual(found, ['team/multi']);
    await shot('search');

    await as('carol');
    await page.goto(`${srv.url}/`);
    assert.deepEqual(await page.locator('section h2').allInnerTexts(), ['public/hello', 'team/app', 'team/multi']);
    const refused = await page.goto(`${srv.url}/ui/image?repo=secret%2Fx&ref=1`);
    assert.equal(refused?.status(), 404);

    await as(undefined);
    const anon = await page.goto(`${srv.url}/`);
    assert.equal(anon?.status(), 200);
    assert.deepEqual(await page.locator('section h2').allInnerTexts(), ['public/hello']);
    await shot('index-anonymous');
    // "sign in" asks a browser for credentials (Basic), then comes back to the list.
    const login = await fetch(`${srv.url}/ui/login`, { redirect: 'manual' });
    assert.equal(login.status, 401);
    assert.match(login.headers.get('www-authenticate') ?? '', /^Basic realm="ocikit"/);
    const back = await fetch(`${srv.url}/ui/login`, { redirect: 'manual', headers: { Authorization: `Basic ${Buffer.from('carol:carol-pw').toString('base64')}` } });
    assert.equal(back.status, 302);
    assert.equal(back.headers.get('location'), '/');
  });

  it('read-only and safe: no write method, no script, nothing from elsewhere', async () => {
    const post = await fetch(`${srv.url}/`, { method: 'POST' });
    assert.equal(post.status, 405);
    const r = await fetch(`${srv.url}/`, { headers: { Authorization: `Basic ${Buffer.from('alice:alice-pw').toString('base64')}` } });
    assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    const html = await r.text();
    assert.doesNotMatch(html, /<script|https?:\/\//);
  });
});
