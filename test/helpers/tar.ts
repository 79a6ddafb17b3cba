/** Building tar archives member by member for tests, hostile names and links included (tar-stream's pack). */
import { pack as tarPack } from 'tar-stream';

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
