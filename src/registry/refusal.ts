import type { ImageReference } from '../references/reference.js';
import { UserError, type ErrorCode, type ErrorFacts } from '../util/errors.js';
import { readCapped } from './read-capped.js';
import { formatSeconds, header, retryAfterMs, type HttpResponse } from './transport.js';

/** `image X (registry Y)`: the prefix of every message about a request. */
export function where(ref: ImageReference): string {
  return `image ${ref.original} (registry ${ref.domain})`;
}

/** A UserError about `ref`, with its image and registry as facts. */
export function refError(
  ref: ImageReference,
  code: ErrorCode,
  text: string,
  facts: ErrorFacts & { cause?: unknown } = {},
): UserError {
  return new UserError(`${where(ref)}: ${text}`, {
    code,
    image: ref.original,
    registry: ref.domain,
    ...facts,
  });
}

/** An error body is only read for its error codes; a few KiB say all a registry has to say. */
const ERROR_BODY_CAP = 64 * 1024;

async function errorDetail(res: HttpResponse): Promise<string> {
  try {
    const text = (await readCapped(res.body, ERROR_BODY_CAP)).toString('utf8');
    const parsed = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    return parsed.errors?.map((e) => e.code ?? e.message).join(', ') ?? '';
  } catch {
    // No JSON error body (a HEAD answer, or an HTML page): the status says enough.
    return '';
  }
}

/** Turns a registry's refusal into an error with a code; 200 and 206 pass. */
export async function checkResponse(
  res: HttpResponse,
  ref: ImageReference,
  what: string,
  blob?: string,
): Promise<void> {
  if (res.status === 200 || res.status === 206) return;
  const detail = await errorDetail(res);
  const suffix = detail ? ` (${detail})` : '';
  const facts = { host: res.url.host === ref.domain ? undefined : res.url.host, blob };
  switch (res.status) {
    case 401:
    case 403:
      throw refError(ref, 'denied', `access to ${what} denied, HTTP ${res.status}${suffix}`, facts);
    case 404:
      throw refError(ref, 'not-found', `${what} not found, HTTP 404${suffix}`, facts);
    case 429:
      throw refError(ref, 'rate-limited', `rate limit hit, HTTP 429${rateLimitDetail(res)}`, facts);
    default:
      throw refError(
        ref,
        'registry-failing',
        `fetching ${what} failed, HTTP ${res.status}${suffix}${waitDetail(res)}`,
        facts,
      );
  }
}

/** A Retry-After longer than we wait is worth telling: the registry itself says when to come back. */
function waitDetail(res: HttpResponse): string {
  const asked = retryAfterMs(header(res, 'retry-after'));
  return asked ? ` (the registry asks to wait ${formatSeconds(asked)})` : '';
}

/**
 * What the registry says of its limit: Docker Hub sends `ratelimit-limit: 100;w=21600` and
 * `ratelimit-remaining`; others send the IETF `ratelimit-reset` or Retry-After.
 */
function rateLimitDetail(res: HttpResponse): string {
  const parts: string[] = [];
  const limit = /^(\d+)(?:;w=(\d+))?/.exec(header(res, 'ratelimit-limit') ?? '');
  if (limit)
    parts.push(`limit ${limit[1]}${limit[2] ? ` per ${Math.round(Number(limit[2]) / 3600)} h` : ''}`);
  const remaining = /^(\d+)/.exec(header(res, 'ratelimit-remaining') ?? '');
  if (remaining) parts.push(`${remaining[1]} remaining`);
  const reset = header(res, 'ratelimit-reset') ?? header(res, 'retry-after');
  if (reset) parts.push(/^\d+$/.test(reset) ? `resets in ${reset} s` : `resets at ${reset}`);
  return parts.length ? ` (${parts.join(', ')})` : '';
}
