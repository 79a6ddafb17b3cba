/**
 * The README's library example is the program the tests run: each block between
 * `<!-- example: PATH -->` and `<!-- /example -->` is the text of that file, byte for byte.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers/paths.js';

it("the README's code blocks marked as examples are the examples/ files, and every example is linked", () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/<!-- example: (\S+) -->\n```ts\n([\s\S]*?)```\n<!-- \/example -->/g)];
  assert.deepEqual(
    blocks.map((b) => b[1]),
    ['examples/copy-with-progress.ts'],
  );
  for (const [, path, text] of blocks) assert.equal(text, readFileSync(join(repoRoot, path!), 'utf8'), `README's block for ${path}`);
  for (const f of ['copy-with-progress.ts', 'inspect.ts', 'store.ts', 'serve.ts']) assert.ok(readme.includes(`(examples/${f})`), `README links examples/${f}`);
});
