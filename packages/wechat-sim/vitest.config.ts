import { defineConfig } from 'vitest/config';

// Runs this package's tests alone (`npx vitest run --root packages/wechat-sim`); the root config runs
// them too, through its `packages/*/test/**/*.test.ts` pattern.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 10_000,
  },
});
