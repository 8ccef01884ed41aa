// Regenerates what the option table documents: action.yml's inputs and outputs and the README's
// generated sections (CLI synopsis and options, the action's inputs and outputs). The unit test
// __tests__/options-docs.test.ts fails when either is stale.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
  cwd: root,
  stdio: 'inherit',
});
const { renderActionYml, renderReadme } = await import(join(root, 'lib/options/docs.js'));
for (const [file, render] of [
  ['action.yml', renderActionYml],
  ['README.md', renderReadme],
]) {
  const path = join(root, file);
  const before = readFileSync(path, 'utf8');
  const after = render(before);
  if (after !== before) {
    writeFileSync(path, after);
    console.log(`updated ${file}`);
  }
}
