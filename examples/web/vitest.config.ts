import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@ifan/source'] },
  ssr: { resolve: { conditions: ['@ifan/source'] } },
  test: { testTimeout: 120_000, hookTimeout: 120_000, pool: 'forks', include: ['test/**/*.test.ts'] },
});
