import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

interface Workflow {
  on: Record<string, { tags?: string[]; branches?: string[] } | null>;
  permissions: Record<string, string>;
  jobs: Record<string, { steps: { run?: string; uses?: string; if?: string }[] }>;
}

const workflow = (name: string) => parse(readFileSync(`.github/workflows/${name}`, 'utf8')) as Workflow;
const script = (w: Workflow) =>
  Object.values(w.jobs)
    .flatMap((j) => j.steps.map((s) => s.run ?? ''))
    .join('\n');

describe('release and CI workflows', () => {
  test('a version tag checks the version and dist/, publishes with provenance and moves the major tag', () => {
    const release = workflow('release.yml');
    expect(release.on.push?.tags).toEqual(['v[0-9]+.[0-9]+.[0-9]+*']);
    expect(release.permissions).toEqual({ contents: 'write', 'id-token': 'write' });
    const run = script(release);
    expect(run).toMatch(/"v\$version" != "\$GITHUB_REF_NAME"/);
    expect(run.indexOf('npm run build')).toBeLessThan(run.indexOf('npm publish'));
    expect(run).toMatch(/git status --porcelain -- dist/);
    expect(run).toMatch(/\*\) npm publish --provenance --access public ;;/);
    expect(run).toMatch(/major="\$\{GITHUB_REF_NAME%%\.\*\}"/);
    expect(run).toMatch(/git push --force origin "refs\/tags\/\$major"/);
  });

  test('pull requests run npm cit and the dist/ check', () => {
    const ci = workflow('ci.yml');
    expect(Object.keys(ci.on)).toContain('pull_request');
    expect(script(ci)).toMatch(/\.ci\/run/);
    expect(readFileSync('.ci/run', 'utf8')).toMatch(/^npm cit$/m);
  });
});
