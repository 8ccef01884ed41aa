import { describe, expect, test } from '@jest/globals';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { listPalletImages } from '../../src/pallet/index.js';
import { allowedAliasRatio } from '../../src/pallet/yaml-aliases.js';
import { parseYamlDocuments } from '../../src/pallet/yaml-values.js';
import { UserError } from '../../src/util/errors.js';
import { onePackagePallet, writeTree } from './helpers.js';

async function list(files: Record<string, string>) {
  const root = await writeTree(files);
  return listPalletImages(root, { cacheDir: join(root, '.cache'), forkliftCacheDir: join(root, '.fk') });
}

/** The classic "billion laughs" (9^9 strings from 500 bytes), under a service's labels. */
function aliasBomb(): string {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  const names = 'abcdefghi';
  for (let i = 1; i < names.length; i++) {
    const prev = `*${names[i - 1]}`;
    lines.push(`${names[i]}: &${names[i]} [${Array(9).fill(prev).join(',')}]`);
  }
  return `services:\n  app:\n    image: example.test/app:1\n    labels:\n      x-bomb:\n${lines.map((l) => `        ${l}`).join('\n')}\n`;
}

/** Peak RSS of this process in bytes: it also catches a spike that is gone by the time we look. */
const peakRss = (): number => process.resourceUsage().maxRSS * 1024;

describe('YAML aliases are bounded as yaml.v3 bounds them', () => {
  test('an alias bomb in a Compose file fails at its file and line in milliseconds, with bounded memory', async () => {
    const files = onePackagePallet({ 'compose.yml': aliasBomb() });
    expect(files['packages/app/compose.yml']!.length).toBeLessThan(1024);
    const peakBefore = peakRss();
    const started = performance.now();
    const err = await list(files).catch((e: unknown) => e);
    const elapsed = performance.now() - started;
    expect(err).toBeInstanceOf(UserError);
    const e = err as UserError;
    expect(e.code).toBe('pallet');
    expect(e.file).toBe('packages/app/compose.yml');
    // The alias `d: &d [*c,...]` is where expansion passes 99%: line 9.
    expect(e.line).toBe(9);
    expect(e.located).toMatch(
      /^packages\/app\/compose\.yml:9: YAML aliases expand this document too much .*"document contains excessive aliasing"/,
    );
    expect(elapsed).toBeLessThan(1000);
    expect(peakRss() - peakBefore).toBeLessThan(50 * 1024 * 1024);
  });

  test("yaml.v3's ratio: 99% of nodes may come from aliases up to 400,000, 10% from 4,000,000 on", () => {
    expect(allowedAliasRatio(1000)).toBe(0.99);
    expect(allowedAliasRatio(400_000)).toBe(0.99);
    expect(allowedAliasRatio(2_200_000)).toBeCloseTo(0.545, 6);
    expect(allowedAliasRatio(4_000_000)).toBe(0.1);
    expect(allowedAliasRatio(9_000_000)).toBe(0.1);
  });

  /** A list of `base` scalars under an anchor, then `copies` aliases of it. */
  const expansion = (base: number, copies: number): string =>
    `base: &base [${Array.from({ length: base }, (_, i) => i).join(',')}]\n` +
    `copies: [${Array(copies).fill('*base').join(',')}]\n`;

  test('the limit sits where yaml.v3 puts it: just under 99% loads, just over fails', () => {
    // Written nodes: root, 2 keys, base list and its 1000 items, copies list and its aliases; each
    // alias adds 1001 expanded nodes. 98 copies: 98,098 of 99,201 nodes from aliases (0.9889).
    const ok = parseYamlDocuments(expansion(1000, 98), 'ok.yml');
    expect((ok[0] as { copies: unknown[] }).copies).toHaveLength(98);
    // 120 copies would end at 0.9907; the share passes 0.99 at the 111th copy.
    expect(() => parseYamlDocuments(expansion(1000, 120), 'bad.yml')).toThrow(
      /^YAML aliases expand this document too much/,
    );
  });

  test('an alias inside its own anchor is refused at its line', () => {
    expect(() => parseYamlDocuments('a: 1\nb: &x [1, *x]\n', 'cycle.yml')).toThrow(
      expect.objectContaining({ line: 2, message: expect.stringMatching(/refers to its own container/) }),
    );
  });

  test('a large Compose file with thousands of honest aliases and merge keys loads quickly', async () => {
    const services = Array.from(
      { length: 3000 },
      (_, i) => `  s${i}:\n    <<: *defaults\n    image: example.test/s${i}:1\n    labels: *labels\n`,
    ).join('');
    const compose =
      'x-defaults: &defaults\n  restart: always\n  environment: {A: "1", B: "2"}\n' +
      'x-labels: &labels\n  a: "1"\n  b: "2"\n  c: "3"\n' +
      `services:\n${services}`;
    // Against the yaml package parsing the same text alone, so a busy machine does not decide.
    const parseStarted = performance.now();
    parseAllDocuments(compose, { merge: true, uniqueKeys: false });
    const parseOnly = performance.now() - parseStarted;
    const started = performance.now();
    const images = await list(onePackagePallet({ 'compose.yml': compose }));
    expect(images).toHaveLength(3000);
    // Before: resolving each alias walked the whole document, and key checks were quadratic (280 s).
    expect(performance.now() - started).toBeLessThan(3 * parseOnly + 1000);
  });
});

describe('other shapes that cost more than their size', () => {
  test('collections nested thousands deep are one clear error', () => {
    const text = `a: ${'['.repeat(3000)}${']'.repeat(3000)}\n`;
    expect(() => parseYamlDocuments(text, 'deep.yml')).toThrow(
      expect.objectContaining({
        file: 'deep.yml',
        line: 1,
        message: 'invalid YAML: collections nested too deeply; fix the syntax of this file',
      }),
    );
  });

  test('a chain of 1000 services each extending the one before resolves each base once', async () => {
    let compose = 'services:\n  s0:\n    image: example.test/s:1\n';
    for (let i = 1; i < 1000; i++) compose += `  s${i}:\n    extends: s${i - 1}\n`;
    const started = performance.now();
    const images = await list(onePackagePallet({ 'compose.yml': compose }));
    expect(images[0]?.requiredBy).toHaveLength(1000);
    // Before: every service resolved its whole chain again (42 s).
    expect(performance.now() - started).toBeLessThan(10_000);
  });

  test('includes forming a diamond 20 levels deep load each file once', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 20; i++)
      files[`f${i}.yml`] = `include:\n  - f${i + 1}.yml\n  - path: [./f${i + 1}.yml]\nservices: {}\n`;
    files['f20.yml'] = 'services:\n  a:\n    image: example.test/a:1\n';
    const started = performance.now();
    const images = await list(onePackagePallet(files));
    expect(images.map((i) => i.reference)).toEqual(['example.test/a:1']);
    // Before: 2^20 loads of f20.yml.
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
