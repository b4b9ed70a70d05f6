import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
/** BlazeFace's weights as `@vladmandic/human` installs them, and the shipped iFAN models (dependencies of this page). */
const humanModels = join(here, 'node_modules', '@vladmandic', 'human', 'models');
const ifanModels = join(here, 'node_modules', '@ifan', 'models', 'models');
/** The models the page loads, at `models/<file>` of the site: the detector and the default iFAN model. */
const MODEL_FILES: Record<string, string> = {
  'blazeface.json': join(humanModels, 'blazeface.json'),
  'blazeface.bin': join(humanModels, 'blazeface.bin'),
  'ifan-3t/model.json': join(ifanModels, 'ifan-3t', 'model.json'),
  'ifan-3t/weights.bin': join(ifanModels, 'ifan-3t', 'weights.bin'),
};

/**
 * Puts the face detector's and the shipped iFAN model's files into the site at `models/`: served from
 * the installed packages by the dev and preview servers, copied into the build. The page never
 * downloads them from elsewhere.
 */
function modelFiles(): Plugin {
  const serve = (url: string | undefined, res: { setHeader(k: string, v: string): void; end(b: Buffer): void }): boolean => {
    const name = /\/models\/(.+)$/.exec((url ?? '').split('?')[0])?.[1];
    if (!name || !MODEL_FILES[name]) return false;
    res.setHeader('Content-Type', name.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    res.end(readFileSync(MODEL_FILES[name]));
    return true;
  };
  return {
    name: 'ifan-model-files',
    configureServer(server) {
      server.middlewares.use((req, res, next) => (serve(req.url, res) ? undefined : next()));
    },
    generateBundle() {
      for (const [f, path] of Object.entries(MODEL_FILES)) this.emitFile({ type: 'asset', fileName: `models/${f}`, source: readFileSync(path) });
    },
  };
}

export default defineConfig({
  // relative URLs: the built site works from any folder or path
  base: './',
  resolve: { conditions: ['@ifan/source', 'module', 'browser', 'development|production'] },
  plugins: [modelFiles()],
  build: { target: 'es2022', chunkSizeWarningLimit: 6000 },
  server: { port: 5173 },
});
