import { describe, expect, test } from '@jest/globals';
import { parseMirrors } from '../src/registry/mirrors.js';

const fail = (m: string) => new Error(m);

describe('parseMirrors', () => {
  test('keys Docker Hub by docker.io whatever name it was given, in the order given', () => {
    expect(
      parseMirrors(
        ['index.docker.io=m1:5000', 'registry-1.docker.io=https://m2.example/', 'ghcr.io=m3', 'docker.io=m4'],
        fail,
      ),
    ).toEqual({ 'docker.io': ['m1:5000', 'm2.example', 'm4'], 'ghcr.io': ['m3'] });
  });

  test.each(['docker.io', 'docker.io=', '=mirror', 'docker.io=a/b', 'a b=c'])('refuses %j', (pair) => {
    expect(() => parseMirrors([pair], fail)).toThrow(/expects REGISTRY=MIRROR/);
  });
});
