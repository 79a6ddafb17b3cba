/** Building tar archives member by member for tests, hostile names and links included (tar-stream's pack). */
import { extract as tarExtract, pack as tarPack, type Header } from 'tar-stream';

/** One member: a file (default), a directory, or a link whose `linkname` is written as given. */
export type RawEntry = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; data?: Buffer | string; linkname?: string };

/** A tar of exactly these entries, in order, names and links written as given. */
export async function rawTar(entries: RawEntry[]): Promise<Buffer> {
  const p = tarPack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    p.on('data', (c: unknown) => chunks.push(c as Buffer));
    p.on('end', () => resolve());
    p.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = { name: e.name, type, mode: type === 'directory' ? 0o755 : 0o644, mtime: new Date(0), ...(e.linkname !== undefined ? { linkname: e.linkname } : {}) };
    await new Promise<void>((resolve, reject) => {
      if (type === 'file') p.entry(header, Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data ?? ''), (err) => (err ? reject(err) : resolve()));
      else p.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  }
  p.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A tar of members with tar-stream's full headers (pax records, owners, times), in order. */
export async function packTar(members: Array<{ header: Header; data?: Buffer }>): Promise<Buffer> {
  const p = tarPack();
  const out: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    p.on('data', (c: unknown) => out.push(c as Buffer));
    p.on('end', resolve);
    p.on('error', reject);
  });
  for (const m of members) await new Promise<void>((resolve, reject) => p.entry(m.header, m.data ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));
  p.finalize();
  await done;
  return Buffer.concat(out);
}

/** Every member's header as tar-stream (a tar reader ocikit's own code does not share) reads it. */
export async function tarHeaders(tar: Buffer): Promise<Header[]> {
  const ex = tarExtract();
  const got: Header[] = [];
  ex.on('entry', (h, stream, next) => {
    got.push(h);
    stream.on('end', next);
    stream.resume();
  });
  const done = new Promise<void>((resolve, reject) => {
    ex.on('finish', resolve);
    ex.on('error', reject);
  });
  ex.end(tar);
  await done;
  return got;
}
