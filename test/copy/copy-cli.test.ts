/** ocikit copy through the CLI: options, the store's memory, atomicity, and concurrent use of one store. */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync, chmodSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { cliPath, fixture, tempDir } from '../helpers/paths.js';
import { POLICY_ARGS, ocikit, ocikitAsync } from '../helpers/cli.js';
import { makeTar } from '../../fixtures/generate.js';
import { sha } from '../../support/digest.js';

const HELLO = `oci:${fixture('hello-oci')}:latest`;
let dir: string;

function ok(args: string[]): string {
  const r = ocikit(args);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

function readManifest(d: string): { mediaType: string; config: { digest: string }; layers: Array<{ digest: string; mediaType: string; size: number }> } {
  return JSON.parse(readFileSync(join(d, 'manifest.json'), 'utf8'));
}

/** An OCI layout holding one image with one uncompressed layer of `size` random bytes. */
async function bigLayout(root: string, size: number): Promise<void> {
  mkdirSync(join(root, 'blobs', 'sha256'), { recursive: true });
  writeFileSync(join(root, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const tar = await makeTar([{ name: 'big.bin', content: randomBytes(size).toString('latin1') }]);
  const put = (b: Buffer | string): { digest: string; size: number } => {
    const buf = Buffer.isBuffer(b) ? b : Buffer.from(b);
    writeFileSync(join(root, 'blobs', 'sha256', sha(buf).slice(7)), buf);
    return { digest: sha(buf), size: buf.length };
  };
  const layer = put(tar);
  const cfg = put(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] }, config: {} }));
  const m = put(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
    }),
  );
  writeFileSync(
    join(root, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }),
  );
}

describe('ocikit copy', () => {
  before(() => {
    dir = tempDir('ocikit-copy-');
  });

  it('inspect of a file layout (oci:, dir:) reads it where it lies: no store is opened or created', () => {
    // A store path that cannot be created: opening the store there fails (E_STORE), so these pass
    // only if inspect never opens it.
    const store = '/proc/ocikit-no-store';
    const viaOci = JSON.parse(ok(['--store', store, 'inspect', HELLO])) as { Digest: string; Layers: string[] };
    ok(['--store', join(dir, 'store-for-dir'), 'copy', '-q', HELLO, `dir:${join(dir, 'inspect-dir')}`]);
    const viaDir = JSON.parse(ok(['--store', store, 'inspect', `dir:${join(dir, 'inspect-dir')}`])) as { Digest: string; Layers: string[] };
    assert.deepEqual(viaDir.Layers, viaOci.Layers);
    assert.equal(viaDir.Digest, viaOci.Digest);
    const fresh = join(dir, 'store-never-made');
    ok(['--store', fresh, 'inspect', '--config', HELLO]);
    ok(['--store', fresh, 'inspect', '--raw', HELLO]);
    ok(['--store', fresh, 'inspect', '--referrers', HELLO]);
    ok(['--store', fresh, 'list-tags', HELLO.slice(0, HELLO.lastIndexOf(':'))]);
    assert.equal(existsSync(fresh), false, 'inspect or list-tags created a store directory');
    // A transport that needs the store still gets it, and says so when it cannot have it.
    const r = ocikit(['--store', store, 'inspect', `oci-archive:/dev/stdin`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /opening the blob store at \/proc\/ocikit-no-store/);
  });

  it('--json prints one result on stdout; progress goes to stderr; -q silences it', () => {
    const store = join(dir, 'store-json');
    const r = ocikit(['--store', store, 'copy', '--json', HELLO, `dir:${join(dir, 'json')}`]);
    assert.equal(r.code, 0, r.stderr);
    const res = JSON.parse(r.stdout) as { manifestDigest: string; bytesRead: number; blobsCopied: number };
    assert.equal(res.manifestDigest, sha(readFileSync(join(dir, 'json', 'manifest.json'))));
    assert.equal(res.blobsCopied, 3);
    assert.match(r.stderr, /Copying blob/);
    const q = ocikit(['--store', store, 'copy', '-q', HELLO, `dir:${join(dir, 'json')}`]);
    assert.equal(q.stderr, '');
    assert.equal(q.stdout, '');
  });

  it('--digestfile writes the manifest digest; --preserve-digests refuses a format change', () => {
    const store = join(dir, 'store-digest');
    const df = join(dir, 'digest.txt');
    ok(['--store', store, 'copy', '-q', '--digestfile', df, HELLO, `dir:${join(dir, 'df')}`]);
    assert.equal(readFileSync(df, 'utf8'), sha(readFileSync(join(dir, 'df', 'manifest.json'))));
    ok(['--store', store, 'copy', '-q', '--preserve-digests', HELLO, `oci:${join(dir, 'pd')}:x`]);
    const r = ocikit(['--store', store, 'copy', '-q', '--preserve-digests', '--format', 'v2s2', HELLO, `dir:${join(dir, 'pd2')}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--preserve-digests/);
    assert.equal(existsSync(join(dir, 'pd2')), false);
  });

  it('--dest-decompress then --dest-compress: same diff IDs; the second conversion reuses the store', () => {
    const store = join(dir, 'store-comp');
    ok(['--store', store, 'copy', '-q', '--dest-decompress', HELLO, `dir:${join(dir, 'plain')}`]);
    const plain = readManifest(join(dir, 'plain'));
    const cfg = JSON.parse(readFileSync(join(dir, 'plain', plain.config.digest.slice(7)), 'utf8')) as { rootfs: { diff_ids: string[] } };
    assert.deepEqual(
      plain.layers.map((l) => l.digest),
      cfg.rootfs.diff_ids,
      'decompressed layers are their diff IDs',
    );
    assert.ok(plain.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar'));
    const src = readManifest(join(dir, 'plain'));
    for (const l of src.layers) assert.equal(sha(readFileSync(join(dir, 'plain', l.digest.slice(7)))), l.digest);

    const out = ok(['--store', store, 'copy', '-q', '--json', '--dest-compress', `dir:${join(dir, 'plain')}`, `dir:${join(dir, 'regz')}`]);
    const regz = readManifest(join(dir, 'regz'));
    assert.ok(regz.layers.every((l) => l.mediaType === 'application/vnd.oci.image.layer.v1.tar+gzip'));
    for (const [i, l] of regz.layers.entries()) {
      assert.equal(sha(gunzipSync(readFileSync(join(dir, 'regz', l.digest.slice(7))))), cfg.rootfs.diff_ids[i]);
    }
    assert.equal((JSON.parse(out) as { bytesRead: number }).bytesRead, 0, 'every source blob was already in the store');
    // Decompressing the original again needs no work: the store knows each layer's uncompressed form.
    const again = JSON.parse(ok(['--store', store, 'copy', '-q', '--json', '--dest-decompress', HELLO, `dir:${join(dir, 'plain2')}`])) as { bytesRead: number };
    assert.equal(again.bytesRead, 0);
    assert.deepEqual(readManifest(join(dir, 'plain2')), plain);
  });

  it('--platform copies a subset of an index as an index; --multi-arch index-only copies just the index; default picks one image', () => {
    const store = join(dir, 'store-plat');
    const src = `oci:${fixture('multiarch-oci')}:latest`;
    ok(['--store', store, 'copy', '-q', '--platform', 'linux/arm64', src, `dir:${join(dir, 'arm')}`]);
    const idx = JSON.parse(readFileSync(join(dir, 'arm', 'manifest.json'), 'utf8')) as { manifests: Array<{ digest: string; platform: { architecture: string } }> };
    assert.deepEqual(
      idx.manifests.map((m) => m.platform.architecture),
      ['arm64'],
    );
    assert.ok(existsSync(join(dir, 'arm', `${idx.manifests[0]!.digest.slice(7)}.manifest.json`)));

    ok(['--store', store, 'copy', '-q', '--multi-arch', 'index-only', src, `dir:${join(dir, 'idxonly')}`]);
    assert.deepEqual(readdirSync(join(dir, 'idxonly')).sort(), ['manifest.json', 'version']);

    ok(['--store', store, '--override-arch', 'arm64', 'copy', '-q', src, `dir:${join(dir, 'one')}`]);
    assert.equal(sha(readFileSync(join(dir, 'one', 'manifest.json'))), idx.manifests[0]!.digest);

    const r = ocikit(['--store', store, 'copy', '-q', '--platform', 'linux/s390x', src, `dir:${join(dir, 'none')}`]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /linux\/s390x.*linux\/amd64, linux\/arm64/);
  });

  it("blobs reach a destination on the store's filesystem by hard link, and an in-place write there cannot corrupt the store", () => {
    const store = join(dir, 'store-link');
    ok(['--store', store, 'copy', '-q', HELLO, `dir:${join(dir, 'linked')}`]);
    const m = readManifest(join(dir, 'linked'));
    const l = m.layers[1]!;
    const destFile = join(dir, 'linked', l.digest.slice(7));
    const storeFile = join(store, 'blobs', 'sha256', l.digest.slice(7));
    assert.equal(statSync(destFile).ino, statSync(storeFile).ino, 'hard link, no byte copy');
    // Somebody edits the destination in place.
    chmodSync(destFile, 0o644);
    const b = readFileSync(destFile);
    b[10] = b[10]! ^ 1;
    writeFileSync(destFile, b);
    // The next copy must not hand out the changed bytes: it notices, drops the blob and fetches again.
    ok(['--store', store, 'copy', '-q', HELLO, `dir:${join(dir, 'linked2')}`]);
    assert.equal(sha(readFileSync(join(dir, 'linked2', l.digest.slice(7)))), l.digest);
  });

  it('store verify finds a corrupted blob, --repair removes it, and the next copy fetches it again', () => {
    const store = join(dir, 'store-verify');
    ok(['--store', store, 'copy', '-q', HELLO, `oci:${join(dir, 'v')}:x`]);
    const clean = ocikit(['--store', store, 'store', 'verify']);
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(clean.stdout, /0 corrupt/);
    const blobs = readdirSync(join(store, 'blobs', 'sha256'));
    const victim = blobs.map((h) => join(store, 'blobs', 'sha256', h)).sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
    const st = statSync(victim);
    chmodSync(victim, 0o644);
    const b = readFileSync(victim);
    b[b.length - 20] = b[b.length - 20]! ^ 0xff;
    writeFileSync(victim, b);
    utimesSync(victim, st.atime, st.mtime); // only re-hashing can tell
    const bad = ocikit(['--store', store, 'store', 'verify']);
    assert.equal(bad.code, 1);
    assert.match(bad.stdout, new RegExp(`corrupt: sha256:${victim.slice(-64)}`));
    const fix = ocikit(['--store', store, 'store', 'verify', '--repair']);
    assert.equal(fix.code, 0);
    assert.equal(existsSync(victim), false);
    const res = JSON.parse(ok(['--store', store, 'copy', '-q', '--json', HELLO, `dir:${join(dir, 'v2')}`])) as { bytesRead: number };
    assert.ok(res.bytesRead > 0, 'the removed blob was fetched again');
    assert.equal(sha(readFileSync(victim)), `sha256:${victim.slice(-64)}`);
  });

  it('store gc removes only what no ref reaches; ls, du and rm report and forget', () => {
    const store = join(dir, 'store-gc');
    const blobs = (): string[] => readdirSync(join(store, 'blobs', 'sha256')).sort();
    ok(['--store', store, 'copy', '-q', `oci:${fixture('multiarch-oci')}:latest`, `dir:${join(dir, 'g0')}`, '--all']);
    const multiOnly = blobs();
    ok(['--store', store, 'copy', '-q', '--dest-decompress', HELLO, `dir:${join(dir, 'g1')}`]);
    const all = blobs();
    const helloOnly = all.filter((h) => !multiOnly.includes(h));
    assert.ok(helloOnly.length >= 4, 'hello brings its manifest, config, a layer and decompressed variants');
    const ls = JSON.parse(ok(['--store', store, '--json', 'store', 'ls'])) as Array<{ name: string; digest: string }>;
    const helloRefs = ls.map((r) => r.name).filter((n) => n.includes('hello-oci') || n.endsWith('/g1'));
    assert.equal(helloRefs.length, 2, 'the source and the destination of the copy');
    const dry = JSON.parse(ok(['--store', store, '--json', 'store', 'gc', '--dry-run'])) as { removed: string[] };
    assert.deepEqual(dry.removed, [], 'every blob is reachable from a ref');
    const du = JSON.parse(ok(['--store', store, '--json', 'store', 'du'])) as { blobs: number; refs: number };
    assert.equal(du.blobs, all.length);
    assert.equal(du.refs, 4);
    ok(['--store', store, 'store', 'rm', ...helloRefs]);
    const gc = JSON.parse(ok(['--store', store, '--json', 'store', 'gc'])) as { removed: string[] };
    // The shared base layer stays reachable, and so does its decompressed variant (kept for later conversions).
    const base = '2011f08e557a428b717554da42e8289d96422634147bd76a352880e0e598f8b0';
    const baseTar = sha(gunzipSync(readFileSync(join(fixture('hello-oci'), 'blobs', 'sha256', base)))).slice(7);
    assert.ok(helloOnly.includes(baseTar));
    assert.deepEqual(
      gc.removed.map((d) => d.slice(7)).sort(),
      helloOnly.filter((h) => h !== baseTar),
      'exactly the blobs only hello reached',
    );
    assert.deepEqual(blobs(), [...multiOnly, baseTar].sort(), "the multi-arch image, its shared base layer and that layer's variant stay");
    const v = ocikit(['--store', store, 'store', 'verify']);
    assert.equal(v.code, 0);
  });

  it('two copies into one store at once both succeed', async () => {
    const store = join(dir, 'store-two');
    const [a, b] = await Promise.all([
      ocikitAsync(['--store', store, 'copy', '-q', '--dest-decompress', HELLO, `dir:${join(dir, 'two-a')}`]),
      ocikitAsync(['--store', store, 'copy', '-q', '--dest-decompress', HELLO, `dir:${join(dir, 'two-b')}`]),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    assert.deepEqual(readManifest(join(dir, 'two-a')), readManifest(join(dir, 'two-b')));
    const v = ocikit(['--store', store, 'store', 'verify']);
    assert.equal(v.code, 0, v.stdout);
  });

  it('an interrupted copy leaves the destination as it was', async () => {
    const src = join(dir, 'big');
    await bigLayout(src, 48 << 20);
    const target = join(dir, 'interrupted');
    ok(['--store', join(dir, 'store-int0'), 'copy', '-q', HELLO, `dir:${target}`]);
    const before = readFileSync(join(target, 'manifest.json'));
    const child = spawn(cliPath, [...POLICY_ARGS, '--store', join(dir, 'store-int'), 'copy', '-q', '--dest-compress', '--dest-compress-level', '9', `oci:${src}:latest`, `dir:${target}`]);
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));
    // Interrupt it in the middle of the copy: once its staging directory exists (it is made after
    // the SIGINT handler is installed), not after a guessed delay.
    const staging = (): string[] => readdirSync(dir).filter((f) => f.startsWith('.interrupted.ocikit-'));
    const deadline = Date.now() + 60_000;
    while (staging().length === 0 && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    assert.equal(staging().length, 1, `the copy started staging: ${stderr}`);
    assert.equal(child.exitCode, null, 'still copying when interrupted');
    child.kill('SIGINT');
    const { code, signal } = await closed;
    assert.equal(signal, null, 'the handler ran, the signal did not kill the process');
    assert.equal(code, 130, `exit 130 after SIGINT, as a shell reports it: ${stderr}`);
    assert.equal(stderr, 'ocikit: interrupted (SIGINT)\n');
    assert.deepEqual(readFileSync(join(target, 'manifest.json')), before, 'the old image is still there, whole');
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.includes('.ocikit-')),
      [],
      'no staging directory left',
    );
  });

  it("an interrupted copy (SIGINT, SIGTERM) removes its temp files from the store; store gc removes a killed one's at once", async () => {
    const src = join(dir, 'big-tmp');
    await bigLayout(src, 48 << 20);
    /**
     * Start a compressing copy and wait (for the condition, not a time) until the layer's temp file
     * in the store holds a MiB: the long job is under way (a small blob's or a manifest's temp file
     * may come and go before a signal lands).
     */
    const startCopy = async (store: string, out: string): Promise<{ child: ReturnType<typeof spawn>; closed: Promise<number | null>; temps: () => string[] }> => {
      const child = spawn(cliPath, [...POLICY_ARGS, '--store', store, 'copy', '-q', '--dest-compress-format', 'gzip', '--dest-compress-level', '9', `oci:${src}:latest`, `oci:${out}:x`]);
      const closed = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
      const temps = (): string[] => (existsSync(join(store, 'tmp')) ? readdirSync(join(store, 'tmp')) : []);
      const sizeOf = (f: string): number => {
        try {
          return statSync(join(store, 'tmp', f)).size;
        } catch {
          return 0;
        }
      };
      const writingLayer = (): boolean => temps().some((f) => sizeOf(f) >= 1 << 20);
      const deadline = Date.now() + 60_000;
      while (!writingLayer() && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      assert.ok(writingLayer(), 'the copy is writing a layer into a temp file in the store');
      assert.equal(child.exitCode, null, 'still copying');
      return { child, closed, temps };
    };
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      const c = await startCopy(join(dir, `store-${sig}`), join(dir, `out-${sig}`));
      c.child.kill(sig);
      assert.equal(await c.closed, sig === 'SIGINT' ? 130 : 143);
      assert.deepEqual(c.temps(), [], `no temp file left after ${sig}`);
    }
    // SIGKILL runs no handler: the temp file stays, and store gc removes it at once (its writer is gone).
    const store = join(dir, 'store-KILL');
    const c = await startCopy(store, join(dir, 'out-KILL'));
    c.child.kill('SIGKILL');
    await c.closed;
    assert.ok(c.temps().length > 0);
    const gc = ocikit(['--store', store, 'store', 'gc']);
    assert.equal(gc.code, 0, gc.stderr);
    assert.match(gc.stdout, /and \d+ temporary files? of stopped copies/);
    assert.deepEqual(c.temps(), []);
  });

  it('--help works for every command: each listed, each with its own usage, none of them running the command', () => {
    const top = ocikit(['--help']);
    assert.equal(top.code, 0);
    // The command list as the top help prints it: "  NAME  SUMMARY" lines under "Commands:".
    const section = top.stdout.split('Commands:\n')[1]?.split('\n\n')[0] ?? '';
    const listed = section
      .split('\n')
      .map((l) => /^ {2}(\S+) +(.+)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null);
    const names = listed.map((m) => m[1]!);
    for (const c of ['copy', 'inspect', 'manifest-digest', 'list-tags', 'store', 'login', 'logout', 'delete']) assert.ok(names.includes(c), `${c} is listed in ocikit --help`);
    const usages = new Set<string>();
    for (const [, name, summary] of listed) {
      // Arguments that would act (a registry to log in to, an image to delete) must be ignored with --help.
      const r = ocikit([name!, '--help', 'docker://127.0.0.1:9/never/contacted:x'], { env: { OCIKIT_STORE: join(dir, 'help-store-never-made') } });
      assert.equal(r.code, 0, `${name} --help: ${r.stderr}`);
      assert.equal(r.stderr, '', `${name} --help writes nothing to stderr`);
      assert.ok(r.stdout.startsWith(`${summary}\n`), `${name} --help starts with its summary`);
      const usage = /^Usage: (ocikit \S+.*)$/m.exec(r.stdout)?.[1];
      assert.ok(usage?.startsWith(`ocikit ${name} `) || usage === `ocikit ${name}`, `${name} --help has its own usage line, got ${usage}`);
      usages.add(usage!);
      assert.equal(ocikit(['help', name!]).stdout, r.stdout, `ocikit help ${name} prints the same`);
    }
    assert.equal(usages.size, listed.length, 'no two commands share a usage line');
    assert.equal(existsSync(join(dir, 'help-store-never-made')), false, '--help opened no store');
  });

  it('manifest-digest prints the digest of a manifest file, and of any file, as skopeo', () => {
    const f = join(dir, 'df', 'manifest.json');
    assert.equal(ok(['manifest-digest', f]).trim(), sha(readFileSync(f)));
    writeFileSync(join(dir, 'notjson'), 'hello');
    assert.equal(ok(['manifest-digest', join(dir, 'notjson')]).trim(), sha(Buffer.from('hello')));
  });

  it('an unknown flag is a usage error naming it', () => {
    const r = ocikit(['copy', '--frobnicate', HELLO, `dir:${join(dir, 'x')}`]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^ocikit: copy: unknown flag --frobnicate/);
  });
});
