import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@ifan/source'] },
  ssr: { resolve: { conditions: ['@ifan/source'] } },
  test: { testTimeout: 60_000, hookTimeout: 60_000, pool: 'forks' },
});
