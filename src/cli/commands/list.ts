import { listPalletImages, type ImageKind } from '../../pallet/index.js';
import { keyValues, oneOf, parseCommand } from '../options.js';
import type { Logger } from '../../util/log.js';

export const listHelp = `Usage: cache-images list [--pallet DIR] [--include-disabled] [--kind compose|file-export|all] [--json]
                         [--repo PATH=DIR]... [--pallet-req PATH=DIR]...

Prints the container images a Forklift pallet requires, one reference per line, sorted
bytewise: the same list as 'forklift plt ls-img' (compose) plus 'forklift plt ls-dl' (file-export).

  --pallet DIR          pallet checkout (default: .)
  --include-disabled    also list images of disabled deployments
  --kind K              compose, file-export or all (default: all)
  --json                per image: reference, kind and every place that requires it
  --repo PATH=DIR       use a local folder for required repository PATH instead of fetching it
  --pallet-req PATH=DIR use a local folder for required pallet PATH instead of fetching it
`;

export async function listCommand(args: string[], logger: Logger): Promise<number> {
  const v = parseCommand(args, {
    pallet: { type: 'string' },
    'include-disabled': { type: 'boolean' },
    kind: { type: 'string' },
    json: { type: 'boolean' },
    repo: { type: 'string', multiple: true },
    'pallet-req': { type: 'string', multiple: true },
  });
  if (v.help) {
    process.stdout.write(listHelp);
    return 0;
  }
  const kind = oneOf(v.kind, 'kind', ['compose', 'file-export', 'all'] as const, 'all');
  const images = await listPalletImages(v.pallet ?? '.', {
    includeDisabled: v['include-disabled'],
    kind: kind as ImageKind | 'all',
    repoOverrides: keyValues(v.repo, 'repo'),
    palletOverrides: keyValues(v['pallet-req'], 'pallet-req'),
    warn: (m) => logger.warn(m),
  });
  if (v.json) process.stdout.write(`${JSON.stringify(images, null, 2)}\n`);
  else process.stdout.write(images.map((i) => `${i.reference}\n`).join(''));
  return 0;
}
