import { describe, expect, test } from '@jest/globals';
import { parseChallenges } from '../src/registry/challenge.js';

describe('WWW-Authenticate parsing', () => {
  test('Docker Hub bearer challenge', () => {
    expect(
      parseChallenges(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      ),
    ).toEqual([
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/alpine:pull',
        },
      },
    ]);
  });

  test('quoted strings may hold commas and escaped quotes; scopes with several actions survive', () => {
    const [c] = parseChallenges(
      'Bearer realm="https://r/t",scope="repository:a/b:pull,push",error="insufficient_scope",x="a\\"b"',
    );
    expect(c?.params.scope).toBe('repository:a/b:pull,push');
    expect(c?.params.error).toBe('insufficient_scope');
    expect(c?.params.x).toBe('a"b');
  });

  test('several challenges in one header, unquoted values, case-insensitive scheme', () => {
    expect(parseChallenges('Basic realm="Registry Realm", BEARER realm=https://t/token , service=s')).toEqual(
      [
        { scheme: 'basic', params: { realm: 'Registry Realm' } },
        { scheme: 'bearer', params: { realm: 'https://t/token', service: 's' } },
      ],
    );
  });

  test('garbage yields nothing usable rather than throwing', () => {
    expect(parseChallenges('')).toEqual([]);
    expect(parseChallenges('===')).toEqual([]);
  });
});
