import type { Descriptor, Platform } from './documents.js';
import { Annotation } from './media-types.js';
import { UserError } from '../util/errors.js';
import { closest } from '../util/suggest.js';

/** Operating systems and architectures images are built for (Go's GOOS and GOARCH names). */
const OSES = ['linux', 'windows', 'darwin', 'freebsd', 'netbsd', 'openbsd', 'solaris', 'illumos', 'aix'];
const VARIANTS: Record<string, string[]> = {
  arm: ['v5', 'v6', 'v7', 'v8'],
  arm64: [
    'v8',
    'v8.1',
    'v8.2',
    'v8.3',
    'v8.4',
    'v8.5',
    'v8.6',
    'v8.7',
    'v8.8',
    'v8.9',
    'v9',
    'v9.1',
    'v9.2',
    'v9.3',
    'v9.4',
    'v9.5',
  ],
  amd64: ['v1', 'v2', 'v3', 'v4'],
  '386': [],
  ppc64le: [],
  ppc64: [],
  s390x: [],
  riscv64: [],
  mips64le: [],
  mips64: [],
  mipsle: [],
  mips: [],
  loong64: [],
  wasm: [],
};

/** Architecture names used by distributions and uname, accepted and documented (README "Platforms"). */
const ARCH_ALIASES: Record<string, string> = {
  aarch64: 'arm64',
  x86_64: 'amd64',
  'x86-64': 'amd64',
  armhf: 'arm/v7',
  armel: 'arm/v6',
};

/** Spellings that are close but ambiguous or wrong in OCI terms: refused, with the platform meant. */
const ARCH_SUGGESTIONS: Record<string, string> = {
  armv7: 'arm/v7',
  armv7l: 'arm/v7',
  armv7hf: 'arm/v7',
  arm32v7: 'arm/v7',
  armv6: 'arm/v6',
  armv6l: 'arm/v6',
  arm32v6: 'arm/v6',
  armv5: 'arm/v5',
  armv8: 'arm64',
  arm64v8: 'arm64',
  x64: 'amd64',
  x86: '386',
  i386: '386',
  i686: '386',
  ppc64el: 'ppc64le',
};

/** The aliases users may write, for documentation: alias -> what it means. */
export const PLATFORM_ALIASES: Readonly<Record<string, string>> = ARCH_ALIASES;

function invalidPlatform(text: string, why: string): UserError {
  return new UserError(`invalid platform ${JSON.stringify(text)}: ${why}`, {
    code: 'invalid-input',
    option: 'platform',
  });
}

/**
 * Parses `os/arch[/variant]` as given on the command line or in the action's input, accepting the
 * aliases of PLATFORM_ALIASES. A misspelling is refused here, before any request, with the
 * platform probably meant.
 */
export function parsePlatform(text: string): Platform {
  const given = text.trim();
  const parts = given.toLowerCase().split('/');
  if (parts.some((p) => p === '' || /[^a-z0-9._-]/.test(p)) || parts.length > 3) {
    throw invalidPlatform(text, 'expected OS/ARCH[/VARIANT], e.g. linux/arm64');
  }
  if (parts.length === 1) {
    const meant = architectureMeant(parts[0] as string);
    throw invalidPlatform(
      text,
      meant ? `did you mean linux/${meant}?` : 'expected OS/ARCH[/VARIANT], e.g. linux/arm64',
    );
  }
  const [os, arch, variant] = parts as [string, string, string | undefined];
  if (!OSES.includes(os)) {
    const meant = closest(os, OSES);
    throw invalidPlatform(
      text,
      `unknown OS ${os}${meant ? `: did you mean ${[meant, arch, variant].filter(Boolean).join('/')}?` : ''}`,
    );
  }
  const aliased = ARCH_ALIASES[arch];
  if (aliased && variant === undefined) {
    const [a, v] = aliased.split('/') as [string, string | undefined];
    return normalizePlatform({ os, architecture: a, variant: v });
  }
  if (!(arch in VARIANTS) && !aliased) {
    const meant = architectureMeant(arch);
    throw invalidPlatform(text, meant ? `did you mean ${os}/${meant}?` : `unknown architecture ${arch}`);
  }
  const platform = normalizePlatform({ os, architecture: arch, variant });
  if (platform.variant && !VARIANTS[platform.architecture]?.includes(platform.variant)) {
    const known = VARIANTS[platform.architecture] ?? [];
    const meant = variantMeant(platform.architecture, platform.variant);
    throw invalidPlatform(
      text,
      meant
        ? `did you mean ${os}/${meant}?`
        : `unknown variant ${platform.variant} of ${platform.architecture} (${known.length ? `known: ${known.join(', ')}` : 'it has none'})`,
    );
  }
  return platform;
}

/** `armv7` -> `arm/v7`, `aarch46` -> `arm64`: the architecture a misspelling probably means. */
function architectureMeant(arch: string): string | undefined {
  return (
    ARCH_SUGGESTIONS[arch] ??
    ARCH_ALIASES[arch] ??
    (arch in VARIANTS ? arch : closest(arch, Object.keys(VARIANTS)))
  );
}

/** `arm64/v7` -> `arm/v7`: a variant that belongs to a neighbouring architecture. */
function variantMeant(arch: string, variant: string): string | undefined {
  if (arch === 'arm64' && VARIANTS.arm?.includes(variant)) return `arm/${variant}`;
  if (arch === 'arm' && variant.startsWith('v8')) return 'arm64';
  return undefined;
}

/**
 * The same normalisation containerd applies, so `linux/arm64/v8` matches an index entry
 * written as `linux/arm64` and `linux/arm` matches `linux/arm/v7`.
 */
export function normalizePlatform(p: Platform): Platform {
  let architecture = p.architecture.toLowerCase();
  let variant = p.variant?.toLowerCase() || undefined;
  switch (architecture) {
    case 'aarch64':
      architecture = 'arm64';
      break;
    case 'x86_64':
    case 'x86-64':
      architecture = 'amd64';
      break;
    case 'armhf':
      architecture = 'arm';
      variant = 'v7';
      break;
    case 'armel':
      architecture = 'arm';
      variant = 'v6';
      break;
  }
  if (architecture === 'arm64' && (variant === 'v8' || variant === '8')) variant = undefined;
  if (architecture === 'arm' && variant === undefined) variant = 'v7';
  if (architecture === 'arm' && variant && /^\d+$/.test(variant)) variant = `v${variant}`;
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  return variant
    ? { os: p.os.toLowerCase(), architecture, variant }
    : { os: p.os.toLowerCase(), architecture };
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** `linux-arm-v7`: the platform in names that allow no slash (cache keys, artifact names). */
export function platformSlug(p: Platform): string {
  const n = normalizePlatform(p);
  return [n.os, n.architecture, n.variant].filter(Boolean).join('-');
}

export function platformsEqual(a: Platform, b: Platform): boolean {
  const x = normalizePlatform(a);
  const y = normalizePlatform(b);
  return x.os === y.os && x.architecture === y.architecture && x.variant === y.variant;
}

/** Attestation manifests (buildx provenance/SBOM) sit in indexes as `unknown/unknown`. */
export function isAttestation(d: Descriptor): boolean {
  return (
    d.annotations?.[Annotation.DockerReferenceType] !== undefined ||
    (d.platform?.os === 'unknown' && d.platform?.architecture === 'unknown')
  );
}

/** The platforms an index offers, for error messages. */
export function availablePlatforms(manifests: Descriptor[]): string[] {
  return manifests
    .filter((d) => d.platform && !isAttestation(d))
    .map((d) => formatPlatform(normalizePlatform(d.platform as Platform)));
}

/** The index entry for `wanted`, or undefined. Attestations never match. */
export function selectPlatform(manifests: Descriptor[], wanted: Platform): Descriptor | undefined {
  return manifests.find((d) => d.platform && !isAttestation(d) && platformsEqual(d.platform, wanted));
}

/** The platform of the machine we run on, in OCI terms (the action's default). */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386' };
  return normalizePlatform({
    os: process.platform === 'win32' ? 'windows' : process.platform,
    architecture: arch[process.arch] ?? process.arch,
  });
}
