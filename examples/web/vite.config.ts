import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
/** BlazeFace's weights as `@vladmandic/human` installs them (a dependency of this page). */
const humanModels = join(here, 'node_modules', '@vladmandic', 'human', 'models');
const MODEL_FILES = ['blazeface.json', 'blazeface.bin'];

/**
 * Puts the face detector's model files into the site at `models/`: served from the installed package
 * by the dev and preview servers, copied into the build. The page never downloads them from elsewhere.
 */
function blazefaceModel(): Plugin {
  const serve = (url: string | undefined, res: { setHeader(k: string, v: string): void; end(b: Buffer): void }): boolean => {
    const name = /\/models\/(blazeface\.(?:json|bin))$/.exec((url ?? '').split('?')[0])?.[1];
    if (!name) return false;
    res.setHeader('Content-Type', name.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    res.end(readFileSync(join(humanModels, name)));
    return true;
  };
  return {
    name: 'ifan-blazeface-model',
    configureServer(server) {
      server.middlewares.use((req, res, next) => (serve(req.url, res) ? undefined : next()));
    },
    generateBundle() {
      for (const f of MODEL_FILES) this.emitFile({ type: 'asset', fileName: `models/${f}`, source: readFileSync(join(humanModels, f)) });
    },
  };
}

export default defineConfig({
  // relative URLs: the built site works from any folder or path
  base: './',
  resolve: { conditions: ['@ifan/source', 'module', 'browser', 'development|production'] },
  plugins: [blazefaceModel()],
  build: { target: 'es2022', chunkSizeWarningLimit: 6000 },
  server: { port: 5173 },
});
