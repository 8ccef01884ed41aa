import { describe, expect, test } from '@jest/globals';
import {
  familiarName,
  familiarTag,
  normalizedReference,
  parseReference,
  registryHost,
} from '../src/references/reference.js';
import { UserError } from '../src/util/errors.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference: valid references, normalised as distribution/reference does', () => {
  test.each([
    ['alpine:3.20', 'docker.io/library/alpine:3.20', 'alpine'],
    ['alpine', 'docker.io/library/alpine', 'alpine'],
    ['library/alpine:3', 'docker.io/library/alpine:3', 'alpine'],
    ['docker.io/library/alpine:3', 'docker.io/library/alpine:3', 'alpine'],
    ['index.docker.io/grafana/grafana:11.3.0', 'docker.io/grafana/grafana:11.3.0', 'grafana/grafana'],
    ['grafana/grafana:11.3.0', 'docker.io/grafana/grafana:11.3.0', 'grafana/grafana'],
    [
      'ghcr.io/planktoscope/machine-name:0.1.3',
      'ghcr.io/planktoscope/machine-name:0.1.3',
      'ghcr.io/planktoscope/machine-name',
    ],
    ['localhost/foo:1', 'localhost/foo:1', 'localhost/foo'],
    ['localhost:5000/foo/bar:1', 'localhost:5000/foo/bar:1', 'localhost:5000/foo/bar'],
    ['127.0.0.1:5000/x/y:tag', '127.0.0.1:5000/x/y:tag', '127.0.0.1:5000/x/y'],
    ['[::1]:5000/x:1', '[::1]:5000/x:1', '[::1]:5000/x'],
    [`alpine@${D}`, `docker.io/library/alpine@${D}`, 'alpine'],
    [`nginx:1.27-alpine@${D}`, `docker.io/library/nginx:1.27-alpine@${D}`, 'nginx'],
    ['a.b/c__d/e-f.g:T_1.x-y', 'a.b/c__d/e-f.g:T_1.x-y', 'a.b/c__d/e-f.g'],
    ['Registry.Example/x:1', 'Registry.Example/x:1', 'Registry.Example/x'],
    ['UPPER/x:1', 'UPPER/x:1', 'UPPER/x'],
  ])('%s', (text, normalised, familiar) => {
    const ref = parseReference(text);
    expect(normalizedReference(ref)).toBe(normalised);
    expect(familiarName(ref)).toBe(familiar);
    expect(ref.original).toBe(text);
  });

  test('tag and digest are both kept; a digest-only reference has no RepoTag form', () => {
    const both = parseReference(`ghcr.io/x/y:1.0@${D}`);
    expect(both.tag).toBe('1.0');
    expect(both.digest).toBe(D);
    expect(familiarTag(both)).toBe('ghcr.io/x/y:1.0');
    expect(familiarTag(parseReference(`ghcr.io/x/y@${D}`))).toBeUndefined();
  });

  test('Docker Hub is served at registry-1.docker.io', () => {
    expect(registryHost(parseReference('alpine:3').domain)).toBe('registry-1.docker.io');
    expect(registryHost(parseReference('ghcr.io/a/b:1').domain)).toBe('ghcr.io');
  });
});

describe('parseReference: invalid references say what is wrong', () => {
  test.each([
    ['', /empty/],
    [' alpine:3', /spaces/],
    ['a'.repeat(64), /image ID/],
    ['Alpine:3', /lowercase/],
    ['docker.io/Library/alpine:3', /lowercase/],
    ['alpine:', /malformed tag/],
    ['alpine:-x', /malformed tag/],
    [`alpine:${'t'.repeat(129)}`, /malformed tag/],
    ['alpine@sha256:abc', /64 lowercase hexadecimal/],
    ['alpine@', /malformed digest/],
    ['x//y:1', /malformed repository/],
    ['-x/y:1', /malformed repository/],
    ['x/y_:1', /malformed repository/],
    [`${'a'.repeat(256)}:1`, /longer than 255/],
    ['bad_host:5000/x:1', /malformed registry host/],
  ])('%j', (text, why) => {
    expect(() => parseReference(text)).toThrow(UserError);
    expect(() => parseReference(text)).toThrow(why);
  });
});
