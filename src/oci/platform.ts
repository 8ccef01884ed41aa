import type { Descriptor, Platform } from './documents.js';
import { Annotation } from './media-types.js';
import { UserError } from '../util/errors.js';

/** Parses `os/arch[/variant]` as given on the command line or in the action's input. */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => p === '' || /[^a-z0-9._-]/i.test(p))) {
    throw new UserError(
      `invalid platform ${JSON.stringify(text)}: expected OS/ARCH[/VARIANT], e.g. linux/arm64`,
      { code: 'invalid-input', option: 'platform' },
    );
  }
  const [os, architecture, variant] = parts as [string, string, string | undefined];
  return normalizePlatform({ os: os.toLowerCase(), architecture: architecture.toLowerCase(), variant });
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
