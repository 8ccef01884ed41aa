/**
 * Jest in ESM mode (the @actions packages are ESM-only), in two projects:
 * - unit: in-process tests of pure rules and single modules, seconds in all
 *   (`npm run jest -- --selectProjects unit`);
 * - e2e: `*.e2e.test.ts`, against real registries, engines, git, skopeo and the cache service.
 */
const common = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/__tests__'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }],
  },
};

export default {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['**/*.test.ts'],
      testPathIgnorePatterns: ['\\.e2e\\.test\\.ts$'],
    },
    // Integration tests start registries and Docker engines; give them room.
    { ...common, displayName: 'e2e', testMatch: ['**/*.e2e.test.ts'] },
  ],
  testTimeout: 120000,
  maxWorkers: 2,
  reporters: ['default', '<rootDir>/scripts/jest-summary.js'],
};
