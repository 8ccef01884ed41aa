// Build: tsc compiles src/ to lib/ (and so type-checks it), then ncc bundles each entry of
// ncc.config.js into a single committed file under dist/.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ncc from '@vercel/ncc';
import config from '../ncc.config.js';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
rmSync(join(root, 'lib'), { recursive: true, force: true });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});
rmSync(join(root, 'dist'), { recursive: true, force: true });
for (const entry of config.entries) {
  const { code, assets } = await ncc(join(root, entry.input), config.options);
  const out = join(root, entry.output);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'index.js'), code);
  for (const [name, asset] of Object.entries(assets ?? {})) {
    mkdirSync(dirname(join(out, name)), { recursive: true });
    writeFileSync(join(out, name), asset.source);
  }
}
