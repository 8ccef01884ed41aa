import { spawn, spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StoreBuilder } from '../pipeline/store-stage.js';
import { buildImageStore, storeManifestPath, type StoreManifest } from '../store/index.js';
import { UserError } from '../util/errors.js';
import type { Logger } from '../util/log.js';

/**
 * Building the store needs root (the engine mounts overlays and writes devices), and an action
 * runs as the runner's user. GitHub's runners allow `sudo` without a password: there the store
 * is built by the CLI bundle under `sudo -n`; as root (or without sudo, where the build then
 * says it needs root) it is built in this process.
 */
export function storeBuilder(logger: Logger): StoreBuilder {
  return async (request) => {
    if (process.getuid?.() === 0 || !canSudo()) return buildImageStore(request);
    const cli = join(dirname(fileURLToPath(import.meta.url)), 'cli', 'index.js');
    const args = ['-n', 'env', `PATH=${process.env.PATH ?? ''}`, process.execPath, cli, 'store'];
    args.push('--layout', request.layoutDir, '--engine', request.engine, '--output', request.output);
    if (request.namespace) args.push('--namespace', request.namespace);
    if (request.dataRoot) args.push('--data-root', request.dataRoot);
    logger.info(`building the image store as root (sudo -n)`);
    const { code, lastError } = await run('sudo', args, logger);
    if (code !== 0) {
      throw new UserError(`the image store could not be built: ${lastError || `sudo exited with ${code}`}`, {
        code: 'engine',
      });
    }
    return JSON.parse(await readFile(storeManifestPath(request.output), 'utf8')) as StoreManifest;
  };
}

function canSudo(): boolean {
  return spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore' }).status === 0;
}

/** Runs the child, passing its stderr lines to the log; keeps its `error:` line for the message. */
function run(command: string, args: string[], logger: Logger): Promise<{ code: number; lastError: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let lastError = '';
    let rest = '';
    child.stderr.on('data', (chunk: Buffer) => {
      const lines = (rest + chunk.toString()).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('error: ')) lastError = line.slice('error: '.length);
        else if (line) logger.info(line);
      }
    });
    child.on('error', (err) => resolve({ code: 127, lastError: err.message }));
    child.on('close', (code) => resolve({ code: code ?? 1, lastError }));
  });
}
