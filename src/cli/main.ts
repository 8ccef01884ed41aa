import { cliSetting } from '../options/settings.js';
import { UsageError, UserError, advisedMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { closest } from '../util/suggest.js';
import { archiveCommand, archiveHelp } from './commands/archive.js';
import { inspectCommand, inspectHelp } from './commands/inspect.js';
import { keyCommand, keyHelp } from './commands/key.js';
import { listCommand, listHelp } from './commands/list.js';
import { pullCommand, pullHelp } from './commands/pull.js';
import { storeCommand, storeHelp } from './commands/store.js';
import { stderrLogger, type Verbosity } from './logger.js';
import { logRequests } from './request-log.js';
import { packageVersion } from './version.js';

interface CommandEntry {
  run: (args: string[], logger: Logger) => Promise<number>;
  help: string;
  summary: string;
}

/** Every command. */
const commands: Record<string, CommandEntry> = {
  list: { run: listCommand, help: listHelp, summary: 'print the images a Forklift pallet requires' },
  pull: {
    run: pullCommand,
    help: pullHelp,
    summary: 'download them for one platform into an OCI layout and write docker-archives',
  },
  archive: {
    run: archiveCommand,
    help: archiveHelp,
    summary: 'write docker-archives from an existing layout',
  },
  key: { run: keyCommand, help: keyHelp, summary: "print the cache key of the images' digest set" },
  inspect: {
    run: inspectCommand,
    help: inspectHelp,
    summary: 'list the images inside an archive or a layout, and check them with --verify',
  },
  store: {
    run: storeCommand,
    help: storeHelp,
    summary: "build the device's image store (docker or containerd data) from a layout, on the host",
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length)) + 2;
  const list = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}${c.summary}`);
  return `Usage: cache-images <command> [options]

Commands:
${list.join('\n')}

Every command takes -q/--quiet (errors only), -v/--verbose (debug output, every request) and
-h/--help. 'cache-images help <command>' shows a command's options; --version the version.
`;
}

/** -q/-v hold for every command, so they are taken out before the command parses the rest. */
function verbosity(args: string[]): { level: Verbosity | undefined; rest: string[] } {
  let level: Verbosity | undefined;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      rest.push(...args.slice(i));
      break;
    }
    const shorts = /^-[qvh]+$/.test(arg) ? arg.slice(1).replace(/h/g, '') : '';
    if (arg === '--quiet' || arg === '--verbose' || shorts) {
      level = arg === '--quiet' || shorts.endsWith('q') ? 'quiet' : 'verbose';
      if (arg.includes('h')) rest.push('--help');
    } else rest.push(arg);
  }
  return { level, rest };
}

/**
 * Runs the CLI and returns its exit code: 0 success, 1 failure (one `error:` line naming the
 * culprit, no stack trace for a user's mistake), 2 usage mistake.
 */
export async function main(argv: string[]): Promise<number> {
  const [first, ...more] = argv;
  if (first === '--version' || first === '-V') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (!first || first === '--help' || first === '-h') {
    (first ? process.stdout : process.stderr).write(usage());
    return first ? 0 : 2;
  }
  // `help pull` is `pull --help`; plain `help` is the overview.
  const [name, args] = first === 'help' ? [more[0], more[0] ? ['--help'] : []] : [first, more];
  if (!name) {
    process.stdout.write(usage());
    return 0;
  }
  const command = commands[name];
  if (!command) {
    const meant = closest(name, Object.keys(commands));
    process.stderr.write(
      `error: unknown command ${JSON.stringify(name)}${meant ? ` (did you mean ${meant}?)` : ''}\n\n${usage()}`,
    );
    return 2;
  }
  const { level, rest } = verbosity(args);
  const logger = stderrLogger(level);
  const stopLogging = level === 'verbose' ? logRequests(logger) : () => undefined;
  try {
    return await command.run(rest, logger);
  } catch (err) {
    return reportError(err, name, command);
  } finally {
    stopLogging();
  }
}

/**
 * Prints a failure as one line; a bad option is a usage mistake, followed by the command's
 * synopsis (not its whole help, which would bury the line that matters).
 */
function reportError(err: unknown, name: string, command: CommandEntry): number {
  const usage = () =>
    `\n${command.help.split('\n\n')[0]}\n\nRun 'cache-images help ${name}' for every option.\n`;
  if (err instanceof UsageError) {
    process.stderr.write(`error: ${err.message}\n${usage()}`);
    return 2;
  }
  if (err instanceof UserError && err.code === 'invalid-input' && err.option) {
    process.stderr.write(`error: ${cliSetting(err.option)}: ${err.message}\n${usage()}`);
    return 2;
  }
  process.stderr.write(`error: ${advisedMessage(err, cliSetting).replace(/\n/g, ' ')}\n`);
  if (!(err instanceof UserError) && process.env.CACHE_IMAGES_DEBUG && err instanceof Error) {
    process.stderr.write(`${err.stack ?? ''}\n`);
  }
  return 1;
}

export { cliSetting };
