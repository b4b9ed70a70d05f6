import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['@ifan/source'] },
  ssr: { resolve: { conditions: ['@ifan/source'] } },
  test: { exclude: ['web/**', '**/node_modules/**'], testTimeout: 60_000, hookTimeout: 60_000, pool: 'forks' },
});
