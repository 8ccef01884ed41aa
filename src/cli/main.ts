import { UsageError, UserError, advisedMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import { archiveCommand, archiveHelp } from './commands/archive.js';
import { keyCommand, keyHelp } from './commands/key.js';
import { listCommand, listHelp } from './commands/list.js';
import { pullCommand, pullHelp } from './commands/pull.js';
import { storeCommand, storeHelp } from './commands/store.js';
import { stderrLogger } from './logger.js';

const commands: Record<string, { run: (args: string[], logger: Logger) => Promise<number>; help: string }> = {
  list: { run: listCommand, help: listHelp },
  pull: { run: pullCommand, help: pullHelp },
  archive: { run: archiveCommand, help: archiveHelp },
  key: { run: keyCommand, help: keyHelp },
  store: { run: storeCommand, help: storeHelp },
};

const usage = `Usage: cache-images <command> [options]

Commands:
  list     print the images a Forklift pallet requires
  pull     download them for one platform into an OCI layout and write docker-archives
  archive  write docker-archives from an existing layout
  key      print the cache key of the images' digest set
  store    build the device's image store (docker or containerd) from a layout

Run 'cache-images <command> --help' for a command's options.
`;

/**
 * Runs the CLI and returns its exit code: 0 success, 1 failure (one `error:` line naming the
 * culprit, no stack trace for a user's mistake), 2 usage mistake.
 */
export async function main(argv: string[]): Promise<number> {
  const [name, ...args] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    (name ? process.stdout : process.stderr).write(usage);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`error: unknown command ${JSON.stringify(name)}\n\n${usage}`);
    return 2;
  }
  const logger = stderrLogger();
  try {
    return await command.run(args, logger);
  } catch (err) {
    // A bad option value found below the parser is a usage mistake too.
    if (
      err instanceof UsageError ||
      (err instanceof UserError && err.code === 'invalid-input' && err.option)
    ) {
      process.stderr.write(`error: ${err.message}\n\n${command.help}`);
      return 2;
    }
    process.stderr.write(`error: ${advisedMessage(err, cliSetting).replace(/\n/g, ' ')}\n`);
    if (!(err instanceof UserError) && process.env.CACHE_IMAGES_DEBUG && err instanceof Error) {
      process.stderr.write(`${err.stack ?? ''}\n`);
    }
    return 1;
  }
}

/** CLI advice names options as flags. */
export const cliSetting = (option: string) => `--${option}`;
