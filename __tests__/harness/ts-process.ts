import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/**
 * Inside the repository, so the built scripts find node_modules; one folder for every test
 * process (files are replaced whole, and the same source always gives the same output).
 */
const buildDir = join(root, '.tmp', 'ts-process');

/**
 * Transpiles a script and every source it imports (relative `./x.js` imports of `./x.ts`) into
 * a mirrored tree of .js files, once per test process: a spawned Node then starts in well under
 * a second even on a busy machine. No type check here: `npm run typecheck` does that.
 */
function build(script: string): string {
  const todo = [resolve(script)];
  const done = new Set<string>();
  while (todo.length) {
    const file = todo.pop() as string;
    if (done.has(file)) continue;
    done.add(file);
    const source = readFileSync(file, 'utf8');
    for (const { fileName } of ts.preProcessFile(source, true, true).importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const dep = resolve(dirname(file), fileName.replace(/\.js$/, '.ts'));
      if (existsSync(dep)) todo.push(dep);
    }
    const out = join(buildDir, relative(root, file)).replace(/\.ts$/, '.js');
    const { outputText } = ts.transpileModule(source, {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    mkdirSync(dirname(out), { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    writeFileSync(tmp, outputText);
    renameSync(tmp, out);
  }
  return join(buildDir, relative(root, resolve(script))).replace(/\.ts$/, '.js');
}
const built = new Map<string, string>();

export interface TsProcess {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves when stdout has a line matching `pattern` (rejects if the process exits first). */
  line(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Exit code, or 128 + signal number for a process killed by a signal. */
  exited: Promise<number>;
}

const running = new Set<ChildProcess>();
// A crashed test run must not leave workers holding locks.
process.once('exit', () => running.forEach((c) => c.kill('SIGKILL')));

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Runs a TypeScript script of this repository in its own Node process (sources, no build). */
export function spawnTs(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  /** Run as another user (uid and gid), e.g. to meet permissions as a CI runner's user does. */
  user?: { uid: number; gid: number },
): TsProcess {
  let js = built.get(script);
  if (!js) built.set(script, (js = build(script)));
  const child = spawn(process.execPath, [js, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
    ...user,
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let out = '';
  let err = '';
  const waiters: (() => void)[] = [];
  const notify = () => waiters.splice(0).forEach((w) => w());
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    notify();
  });
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => {
      notify();
      resolve(code ?? 128 + (SIGNAL_NUMBERS[signal ?? ''] ?? 0));
    }),
  );
  const line = (pattern: RegExp, timeoutMs = 60_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no line ${pattern} in ${timeoutMs} ms:\n${out}${err}`)),
        timeoutMs,
      );
      const check = () => {
        const m = out.match(pattern);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          clearTimeout(timer);
          reject(new Error(`exited before ${pattern}:\n${out}${err}`));
        } else waiters.push(check);
      };
      check();
    });
  return { child, pid: child.pid ?? -1, stdout: () => out, stderr: () => err, line, exited };
}
