import { afterEach, describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { readInputs } from '../src/action/inputs.js';
import {
  OUTPUTS,
  actionInputs,
  actionSetting,
  commandOptions,
  definition,
  renderActionYml,
  renderReadme,
} from '../src/options/index.js';

interface ActionYml {
  inputs: Record<string, { description: string; required: boolean; default: string }>;
  outputs: Record<string, { description: string }>;
}

describe('one table feeds action.yml and the README', () => {
  const actionText = readFileSync('action.yml', 'utf8');
  const action = parse(actionText) as ActionYml;

  test("action.yml's inputs, defaults and descriptions are the table's", () => {
    expect(Object.keys(action.inputs)).toEqual(actionInputs().map((i) => i.name));
    for (const input of actionInputs()) {
      expect({ name: input.name, ...action.inputs[input.name] }).toEqual({
        name: input.name,
        description: input.description,
        required: false,
        default: input.default,
      });
    }
    expect(Object.keys(action.outputs)).toEqual(Object.keys(OUTPUTS));
    expect(renderActionYml(actionText)).toBe(actionText);
  });

  test("README's generated sections are fresh (else: npm run docs)", () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(renderReadme(readme)).toBe(readme);
  });

  test('the action offers every option of pull except the terminal ones', () => {
    const terminalOnly = ['json', 'quiet', 'verbose', 'help'];
    const missing = commandOptions('pull').filter((o) => !terminalOnly.includes(o) && !definition(o).input);
    expect(missing).toEqual([]);
    const names = actionInputs().map((i) => i.name);
    for (const name of [
      'layer-compression',
      'verify',
      'report',
      'ca-files',
      'repositories',
      'pallet-requirements',
      'cache',
      'fail-on-cache-miss',
      'on-registry-error',
      'lock-timeout',
      'idle-timeout',
      'image-store',
      'image-store-namespace',
      'image-store-cache',
    ]) {
      expect(names).toContain(name);
    }
    for (const name of [
      'archives',
      'platform-slug',
      'cache-matched-key',
      'report-path',
      'changes',
      'image-store-path',
    ]) {
      expect(Object.keys(OUTPUTS)).toContain(name);
    }
  });

  test("the action's advice names the input the table gives an option", () => {
    expect(actionSetting('ca-file')).toBe('input ca-files');
    expect(actionSetting('layout')).toBe('input layout-path');
    expect(actionSetting('prefix')).toBe('input cache-key-prefix');
    expect(actionSetting('repo')).toBe('input repositories');
    expect(actionSetting('lock-timeout')).toBe('input lock-timeout');
  });
});

describe("the action's inputs are read by the CLI's rules", () => {
  const set: string[] = [];
  function inputs(values: Record<string, string>) {
    for (const [name, value] of Object.entries(values)) {
      const key = `INPUT_${name.toUpperCase()}`;
      process.env[key] = value;
      set.push(key);
    }
    return readInputs();
  }
  afterEach(() => {
    for (const key of set.splice(0)) delete process.env[key];
  });

  test('layer-compression none, as the CLI allows', () => {
    expect(inputs({ 'layer-compression': 'none' }).layerCompression).toBe('none');
  });

  test('defaults are the table defaults', () => {
    const i = inputs({ platform: 'linux/arm64' });
    expect(i).toMatchObject({
      layerCompression: 'keep',
      concurrency: 8,
      cache: true,
      cacheMode: 'read-write',
      failOnCacheMiss: false,
      onRegistryError: 'use-cache',
      lockTimeoutMs: 600_000,
      idleTimeoutMs: 30_000,
      cacheKeyPrefix: 'cache-images',
    });
    expect(i.imageStore).toBeUndefined();
  });

  test('the new inputs map to the job options', () => {
    const i = inputs({
      platform: 'linux/armhf',
      cache: 'restore-only',
      'fail-on-cache-miss': 'true',
      'on-registry-error': 'fail',
      'lock-timeout': '2m',
      'idle-timeout': '1500ms',
      verify: 'true',
      report: 'report.json',
      'ca-files': 'a.pem\nb.pem',
      repositories: 'github.com/o/r=./r\n',
      'pallet-requirements': 'github.com/o/p=./p',
      'image-store': 'containerd',
      'image-store-namespace': 'k8s.io',
      'image-store-cache': 'false',
      images: 'a:1\nb:2, c:3',
    });
    expect(i).toMatchObject({
      platform: { os: 'linux', architecture: 'arm', variant: 'v7' },
      cache: true,
      cacheMode: 'restore-only',
      failOnCacheMiss: true,
      onRegistryError: 'fail',
      lockTimeoutMs: 120_000,
      idleTimeoutMs: 1_500,
      verify: true,
      reportFile: 'report.json',
      caFiles: ['a.pem', 'b.pem'],
      repoOverrides: { 'github.com/o/r': './r' },
      palletOverrides: { 'github.com/o/p': './p' },
      images: ['a:1', 'b:2', 'c:3'],
      imageStore: { engine: 'containerd', namespace: 'k8s.io', cache: false },
    });
    expect(inputs({ cache: 'false' }).cache).toBe(false);
  });

  test.each([
    [{ concurrency: '65' }, 'input concurrency: must be a whole number from 1 to 64, got "65"'],
    [{ 'layer-compression': 'zstd' }, 'input layer-compression: must be keep or none, got "zstd"'],
    [{ cache: 'sometimes' }, 'input cache: must be true, false or restore-only, got "sometimes"'],
    [
      { platform: 'linux/arm64\nlinux/amd64' },
      'input platform: one platform per run, got linux/arm64, linux/amd64',
    ],
    [
      { platform: 'linux/armv7' },
      'input platform: invalid platform "linux/armv7": did you mean linux/arm/v7?',
    ],
    [{ verify: 'yes' }, 'input verify: must be true or false, got "yes"'],
    [{ 'idle-timeout': 'long' }, 'input idle-timeout: must be a duration'],
    [{ 'cache-key-prefix': 'a,b' }, 'input cache-key-prefix: must be 1 to 100 letters'],
    [{ 'registry-mirrors': 'docker.io' }, 'input registry-mirrors: expects REGISTRY=MIRROR'],
    [{ 'image-store': 'podman' }, 'input image-store: must be docker or containerd, got "podman"'],
  ])('%j is refused naming the input', (values, message) => {
    expect(() => inputs(values)).toThrow(message);
  });

  test('a refused input is an invalid-input UserError, so the step fails with that one line', () => {
    expect(() => inputs({ concurrency: '0' })).toThrow(
      expect.objectContaining({ code: 'invalid-input', name: 'UserError' }) as unknown as Error,
    );
  });
});
