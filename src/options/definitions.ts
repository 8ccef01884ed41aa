import {
  choice,
  duration,
  flag,
  integer,
  keyValues,
  list,
  mirrors,
  platform,
  text,
  type ValueKind,
} from './kinds.js';

/** The CLI's commands that take their options from this table. */
export const COMMANDS = ['list', 'pull', 'archive', 'key', 'inspect', 'store'] as const;
export type Command = (typeof COMMANDS)[number];

/** An action input: its name, and its default as action.yml declares it when that differs. */
export interface InputDefinition {
  name: string;
  /** The literal default in action.yml; otherwise the option's `default`, or empty. */
  default?: string;
  /** What an empty default means, for docs (`the runner's platform`). */
  defaultText?: string;
}

export interface OptionDefinition<T = unknown> {
  kind: ValueKind<T>;
  /** One line; a record when it reads differently per command. */
  help: string | Partial<Record<Command, string>>;
  /** The commands taking it (`all`: every command); none for an option only the action has. */
  commands: readonly Command[] | 'all';
  /** Commands that cannot run without it. */
  required?: readonly Command[];
  short?: string;
  /** The default as a user would write it; parsed by `kind` like any value. */
  default?: string;
  /** What an absent value means when no literal default says it. */
  defaultText?: string;
  input?: InputDefinition;
}

/** Keeps each entry's value type for `OptionValues`. */
function option<T>(definition: OptionDefinition<T>): OptionDefinition<T> {
  return definition;
}

const IMAGE_COMMANDS = ['pull', 'key'] as const;
const PALLET_COMMANDS = ['list', 'pull', 'key'] as const;

/**
 * Every option of the CLI and every input of the action, once. The CLI's parser and help, the
 * action's input reading, action.yml and the README's tables all come from here.
 * Keys are the CLI's long option names (the names `UserError.option` uses).
 */
export const OPTIONS = {
  pallet: option({
    kind: text('DIR|PATH@VERSION'),
    help: 'pallet whose images to use: a checkout, or a remote pallet such as github.com/PlanktoScope/pallet-standard@v2025.0.0 (a tag, branch, commit or pseudo-version), fetched with git',
    commands: PALLET_COMMANDS,
    defaultText: 'the current folder when it holds forklift-pallet.yml',
    input: { name: 'pallet' },
  }),
  image: option({
    kind: list('REF'),
    help: 'an extra image reference, with a tag or a digest',
    commands: IMAGE_COMMANDS,
    input: { name: 'images' },
  }),
  'include-disabled': option({
    kind: flag,
    help: 'also use the images of disabled deployments',
    commands: PALLET_COMMANDS,
    default: 'false',
    input: { name: 'include-disabled' },
  }),
  kind: option({
    kind: choice(['compose', 'file-export', 'all']),
    help: "compose ('forklift plt ls-img'), file-export (the OCI images of 'forklift plt ls-dl') or all",
    commands: ['list'],
    default: 'all',
  }),
  json: option({
    kind: flag,
    help: {
      list: 'per image: reference, kind and every place that requires it',
      pull: 'print the JSON report on stdout',
      inspect: 'per image: references, digest, manifest, id, platform, size and layers',
    },
    commands: ['list', 'pull', 'inspect'],
    default: 'false',
  }),
  platform: option({
    kind: platform,
    help: 'platform to pull, e.g. linux/arm64, linux/arm/v7 (aliases: linux/armhf, aarch64, x86_64)',
    commands: IMAGE_COMMANDS,
    required: IMAGE_COMMANDS,
    input: { name: 'platform', defaultText: "the runner's platform" },
  }),
  layout: option({
    kind: text('DIR'),
    help: {
      pull: 'the OCI image layout (created if missing)',
      archive: "the OCI image layout filled by 'cache-images pull'",
      inspect: 'an OCI image layout to read',
      store: "the OCI image layout filled by 'cache-images pull'; the store is for its platform",
    },
    commands: ['pull', 'archive', 'inspect', 'store'],
    required: ['pull', 'archive', 'store'],
    input: { name: 'layout-path', defaultText: '`$RUNNER_TEMP/cache-images/layout`' },
  }),
  archive: option({
    kind: text('FILE'),
    help: {
      pull: "one docker-archive ('docker load' format) holding every image",
      archive: "one docker-archive ('docker load' format) holding every image",
      inspect:
        "a docker-archive to read (written by cache-images, 'docker save' or skopeo; streamed, nothing extracted)",
    },
    commands: ['pull', 'archive', 'inspect'],
    input: { name: 'archive', default: 'cache-images.tar' },
  }),
  'archive-dir': option({
    kind: text('DIR'),
    help: 'one docker-archive per image, in this folder',
    commands: ['pull', 'archive'],
    input: { name: 'archive-dir' },
  }),
  'layer-compression': option({
    kind: choice(['keep', 'none']),
    help: 'keep: layers as the registry serves them (smallest); none: decompressed, checked against diff_ids (faster to load under QEMU)',
    commands: ['pull', 'archive'],
    default: 'keep',
    input: { name: 'layer-compression' },
  }),
  concurrency: option({
    kind: integer(1, 64),
    help: 'blobs downloaded at once',
    commands: ['pull'],
    default: '8',
    input: { name: 'concurrency' },
  }),
  verify: option({
    kind: flag,
    help: {
      pull: 're-hash the blobs already in the layout; damaged ones are fetched again',
      inspect:
        "re-hash every blob against its digest (docker-archive layers against the config's diff_ids); a damaged one fails naming image and blob",
    },
    commands: ['pull', 'inspect'],
    default: 'false',
    input: { name: 'verify' },
  }),
  report: option({
    kind: text('FILE'),
    help: 'write a JSON report: per image reference, digests, size, source; totals',
    commands: ['pull'],
    input: { name: 'report' },
  }),
  offline: option({
    kind: flag,
    help: 'use only the images the layout holds; never contact a registry',
    commands: ['pull'],
    default: 'false',
    input: { name: 'offline' },
  }),
  'on-registry-error': option({
    kind: choice(['use-cache', 'fail']),
    help: "when a tag's registry fails: use-cache takes the digest the layout recorded for it; fail stops",
    commands: ['pull'],
    default: 'use-cache',
    input: { name: 'on-registry-error' },
  }),
  'lock-timeout': option({
    kind: duration,
    help: 'how long to wait for another run using the same layout',
    commands: ['pull', 'archive'],
    default: '10m',
    input: { name: 'lock-timeout' },
  }),
  'idle-timeout': option({
    kind: duration,
    help: 'a download receiving nothing this long is retried',
    commands: ['pull'],
    default: '30s',
    input: { name: 'idle-timeout' },
  }),
  'insecure-registry': option({
    kind: list('HOST'),
    help: 'registry (host[:port]) reachable over plain HTTP or unverified TLS; loopback always is',
    commands: IMAGE_COMMANDS,
    input: { name: 'insecure-registries' },
  }),
  mirror: option({
    kind: mirrors,
    help: "a mirror tried first for a registry's images (e.g. docker.io=mirror.example:5000); the registry is the fallback",
    commands: IMAGE_COMMANDS,
    input: { name: 'registry-mirrors' },
  }),
  'ca-file': option({
    kind: list('FILE'),
    help: 'also trust the PEM CA certificates in this file',
    commands: IMAGE_COMMANDS,
    input: { name: 'ca-files' },
  }),
  repo: option({
    kind: keyValues('PATH=DIR'),
    help: 'use a local folder for a required repository instead of fetching it',
    commands: PALLET_COMMANDS,
    input: { name: 'repositories' },
  }),
  'pallet-req': option({
    kind: keyValues('PATH=DIR'),
    help: 'use a local folder for a required pallet instead of fetching it',
    commands: PALLET_COMMANDS,
    input: { name: 'pallet-requirements' },
  }),
  prefix: option({
    kind: text('S', {
      test: /^[A-Za-z0-9._-]{1,100}$/,
      rule: '1 to 100 letters, digits, dots, dashes or underscores',
    }),
    help: 'prefix of the cache key',
    commands: ['key'],
    default: 'cache-images',
    input: { name: 'cache-key-prefix' },
  }),
  cache: option({
    kind: choice(['true', 'false', 'restore-only']),
    help: 'keep the layout in the Actions cache, keyed by the digest set; restore-only never saves',
    commands: [],
    default: 'true',
    input: { name: 'cache' },
  }),
  'fail-on-cache-miss': option({
    kind: flag,
    help: 'fail when no layout is cached under the exact key',
    commands: [],
    default: 'false',
    input: { name: 'fail-on-cache-miss' },
  }),
  'image-store': option({
    kind: choice(['docker', 'containerd']),
    help: "also build the device's image store (a tarball of the engine's data folder) with this engine",
    commands: [],
    defaultText: 'none',
    input: { name: 'image-store' },
  }),
  'image-store-namespace': option({
    kind: text('NS'),
    help: 'containerd namespace of the image store (k8s.io for k3s)',
    commands: [],
    defaultText: 'moby',
    input: { name: 'image-store-namespace' },
  }),
  'image-store-cache': option({
    kind: flag,
    help: 'keep the image store in the Actions cache',
    commands: [],
    default: 'true',
    input: { name: 'image-store-cache' },
  }),
  engine: option({
    kind: choice(['docker', 'containerd']),
    help: "the device's engine: docker (classic store, overlay2, under /var/lib/docker) or containerd (content store and overlayfs snapshots, under /var/lib/containerd: Docker 29's containerd store, k3s, containerd)",
    commands: ['store'],
    required: ['store'],
  }),
  namespace: option({
    kind: text('NS'),
    help: 'containerd namespace: moby (default, Docker 29), k8s.io (k3s, Kubernetes)',
    commands: ['store'],
  }),
  'data-root': option({
    kind: text('DIR'),
    help: "the engine's data folder on the device, when not the default (k3s: /var/lib/rancher/k3s/agent/containerd)",
    commands: ['store'],
  }),
  output: option({
    kind: text('FILE'),
    help: 'the store tarball to write; FILE.json describes it',
    commands: ['store'],
    required: ['store'],
  }),
  'github-token': option({
    kind: text('TOKEN'),
    help: "used for ghcr.io when docker's config has nothing for it",
    commands: [],
    input: { name: 'github-token', default: '${{ github.token }}' },
  }),
  quiet: option({
    kind: flag,
    short: 'q',
    help: 'print errors only',
    commands: 'all',
    default: 'false',
  }),
  verbose: option({
    kind: flag,
    short: 'v',
    help: 'debug output: every request made',
    commands: 'all',
    default: 'false',
  }),
  help: option({ kind: flag, short: 'h', help: 'show this help', commands: 'all', default: 'false' }),
};

export type OptionName = keyof typeof OPTIONS;

type ValueOf<D> = D extends OptionDefinition<infer T> ? T : never;

/** What an option reader returns: each option's value, or undefined when absent without default. */
export type OptionValues = { [K in OptionName]?: ValueOf<(typeof OPTIONS)[K]> };

export function definition(name: OptionName): OptionDefinition {
  return OPTIONS[name] as OptionDefinition;
}

export function optionNames(): OptionName[] {
  return Object.keys(OPTIONS) as OptionName[];
}

/** The options a command takes, in table order. */
export function commandOptions(command: Command): OptionName[] {
  return optionNames().filter((name) => {
    const { commands } = definition(name);
    return commands === 'all' || commands.includes(command);
  });
}

/** The help line of an option for one command. */
export function helpOf(name: OptionName, command?: Command): string {
  const { help } = definition(name);
  if (typeof help === 'string') return help;
  return (command && help[command]) ?? Object.values(help).join('; ');
}
