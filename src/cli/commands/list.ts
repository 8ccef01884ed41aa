import { commandHelp, parseCommandLine } from '../../options/index.js';
import { describePallet, readPallet } from '../../pallet/index.js';
import type { Logger } from '../../util/log.js';

export const listHelp = commandHelp(
  'list',
  `Prints the container images a Forklift pallet requires, one reference per line, sorted
bytewise: the same list as 'forklift plt ls-img' (compose) plus 'forklift plt ls-dl' (file-export).`,
);

export async function listCommand(args: string[], logger: Logger): Promise<number> {
  const v = parseCommandLine('list', args);
  if (v.help) {
    process.stdout.write(listHelp);
    return 0;
  }
  const { images, pallet } = await readPallet(v.pallet ?? '.', {
    includeDisabled: v['include-disabled'],
    kind: v.kind,
    repoOverrides: v.repo,
    palletOverrides: v['pallet-req'],
    warn: (m) => logger.warn(m),
  });
  // Each image names the pallet it was read from: `path@version (commit)` for a remote one.
  const from = describePallet(pallet);
  if (v.json)
    process.stdout.write(
      `${JSON.stringify(
        images.map((i) => ({ ...i, pallet: from })),
        null,
        2,
      )}\n`,
    );
  else process.stdout.write(images.map((i) => `${i.reference}\n`).join(''));
  return 0;
}
