import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ["src/index.ts", "src/cli.ts", "src/batch-worker.ts", "src/gradient-worker.ts"],
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node20',
});
