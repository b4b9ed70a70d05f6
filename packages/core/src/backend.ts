import * as tf from '@tensorflow/tfjs-core';

/** The backends the library can run on in Node, best first. */
export const BACKENDS = ['tfjs-node-gpu', 'tfjs-node', 'wasm', 'cpu'] as const;
/** The backends the library can run on in a browser (or a web worker), best first. */
export const BROWSER_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKENDS)[number] | (typeof BROWSER_BACKENDS)[number];

export interface BackendChoice {
  /** The backend in use. */
  name: BackendName;
  /** tfjs's own name for it (`tensorflow`, `webgpu`, `webgl`, `wasm`, `cpu`). */
  tfBackend: string;
  /** Why each better backend was not used. */
  skipped: Partial<Record<BackendName, string>>;
  /** Kernels this library registered for the backend (wasm and cpu training kernels). */
  kernels: string[];
  /** The one line reported when the backend was chosen. */
  message: string;
}

export interface SelectBackendOptions {
  /**
   * Use this backend and no other (error when it is not available). Default: the environment variable
   * `IFAN_BACKEND`, else the best available of tfjs-node-gpu, tfjs-node, wasm, cpu; in a browser the
   * best of webgpu, webgl, wasm, cpu.
   */
  backend?: BackendName;
  /**
   * Browser only: where the wasm backend's `.wasm` files are, as tfjs-backend-wasm's `setWasmPaths`
   * takes them (a URL prefix ending in `/`, or a map from file name to URL). A bundled page needs it,
   * as the files are not next to the bundle. Default: tfjs's own lookup.
   */
  wasmPaths?: string | Record<string, string>;
  /** Where the one-line report goes; `false` for silence. Default `console.error`. */
  log?: ((line: string) => void) | false;
  /** Module loader (tests replace it to simulate installed or missing native packages). */
  importModule?: (name: string) => Promise<unknown>;
}

let current: BackendChoice | null = null;

/**
 * Picks and activates the tfjs backend: tfjs-node-gpu, then tfjs-node, then wasm (with this library's
 * training kernels), then cpu; in a browser webgpu, then webgl, then wasm (with the training
 * kernels), then cpu. An option or `IFAN_BACKEND` (Node) forces one. The choice is reported once, in
 * one line that says why each better backend was not used; later calls return the same choice.
 */
export async function selectBackend(options: SelectBackendOptions = {}): Promise<BackendChoice> {
  const browser = !isNode();
  const forced = options.backend ?? (browser ? undefined : parseEnv(process.env?.IFAN_BACKEND));
  if (current && (!forced || forced === current.name) && tf.getBackend() === current.tfBackend) return current;
  const importModule = options.importModule ?? ((name: string) => import(/* @vite-ignore */ name));
  const all: readonly BackendName[] = browser ? BROWSER_BACKENDS : BACKENDS;
  if (forced && !all.includes(forced)) {
    throw new Error(`backend ${forced} is not one of ${browser ? 'a browser' : 'Node'}'s: use one of ${all.join(', ')}`);
  }
  const candidates = forced ? [forced] : [...all];
  const skipped: Partial<Record<BackendName, string>> = {};
  for (const name of candidates) {
    const why = browser ? await tryActivateInBrowser(name, options) : await tryActivate(name, importModule, options.importModule === undefined);
    if (why === null) {
      const kernels = name === 'wasm' || name === 'cpu' ? (await import('./kernels/index')).registerTrainingKernels(name) : [];
      const notes = Object.entries(skipped).map(([n, r]) => `${n}: ${r}`);
      const message = `ifan: backend ${name}${forced ? ' (forced)' : ''}${notes.length ? ` (${notes.join('; ')})` : ''}`;
      const log = options.log === undefined ? (l: string) => console.error(l) : options.log;
      if (log) log(message);
      current = { name, tfBackend: tf.getBackend(), skipped, kernels, message };
      return current;
    }
    skipped[name] = why;
  }
  const reasons = Object.entries(skipped).map(([n, r]) => `${n}: ${r}`).join('; ');
  throw new Error(
    forced
      ? `backend ${forced} is not available (${reasons}); ${browser ? 'choose' : 'unset IFAN_BACKEND or choose'} one of ${all.join(', ')}`
      : `no tfjs backend could be started (${reasons})`,
  );
}

/**
 * Forgets the choice, so that the next {@link selectBackend} chooses and reports again (after
 * installing a native package in a running REPL, or in tests).
 */
export function resetBackendSelection(): void {
  current = null;
}

/** The backend chosen by {@link selectBackend}, or null before it ran. */
export function currentBackend(): BackendChoice | null {
  return current && tf.getBackend() === current.tfBackend ? current : null;
}

/** Node (or a runtime that passes for it, with `process.versions.node`), not a browser or web worker. */
function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/**
 * The browser backends' packages, as literal imports so that a bundler (Vite, esbuild, webpack) puts
 * each in a chunk of its own, loaded only when that backend is tried.
 */
const BROWSER_MODULES: Record<(typeof BROWSER_BACKENDS)[number], () => Promise<unknown>> = {
  webgpu: () => import('@tensorflow/tfjs-backend-webgpu'),
  webgl: () => import('@tensorflow/tfjs-backend-webgl'),
  wasm: () => import('@tensorflow/tfjs-backend-wasm'),
  cpu: () => import('@tensorflow/tfjs-backend-cpu'),
};

/** Activates a backend in a browser; returns null on success or the reason it is unavailable. */
async function tryActivateInBrowser(name: BackendName, options: SelectBackendOptions): Promise<string | null> {
  const load = BROWSER_MODULES[name as keyof typeof BROWSER_MODULES];
  if (!load) return 'not a browser backend';
  if (name === 'webgpu' && !(typeof navigator !== 'undefined' && 'gpu' in navigator && navigator.gpu)) return 'this browser has no WebGPU (navigator.gpu)';
  if (name === 'webgpu') {
    const adapter = await (navigator as unknown as { gpu: { requestAdapter(): Promise<unknown> } }).gpu.requestAdapter().catch(() => null);
    if (!adapter) return 'no WebGPU adapter';
  }
  if (name === 'webgl') {
    const canvas = typeof OffscreenCanvas !== 'undefined' ? new OffscreenCanvas(1, 1) : typeof document !== 'undefined' ? document.createElement('canvas') : null;
    const gl = (canvas?.getContext('webgl2') ?? canvas?.getContext('webgl')) as WebGLRenderingContext | null | undefined;
    if (!gl) return 'no WebGL context';
    // a software rasteriser (Chromium's SwiftShader without a GPU, Mesa's llvmpipe) runs the network
    // far slower than wasm: measured here, a tiny-preset training step took 100 s against 0.3 s
    const info = gl.getExtension('WEBGL_debug_renderer_info');
    const renderer = String(info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER));
    const software = /swiftshader|llvmpipe|softpipe|software/i.exec(renderer)?.[0];
    if (!options.backend && software) return `software renderer (${/swiftshader/i.test(software) ? 'SwiftShader' : software}), slower than wasm`;
  }
  let mod: unknown;
  try {
    mod = await load();
  } catch (e) {
    return `cannot load its package: ${(e as Error).message.split('\n')[0]}`;
  }
  if (name === 'wasm' && options.wasmPaths !== undefined) {
    (mod as { setWasmPaths(p: string | Record<string, string>): void }).setWasmPaths(options.wasmPaths);
  }
  if (!tf.findBackendFactory(name)) return `its package registered no "${name}" backend`;
  try {
    const ok = await tf.setBackend(name);
    if (!ok) return `the ${name} backend failed to initialise`;
    await tf.ready();
  } catch (e) {
    return `the ${name} backend failed to initialise: ${(e as Error).message.split('\n')[0]}`;
  }
  return null;
}

function parseEnv(value: string | undefined): BackendName | undefined {
  if (!value) return undefined;
  if (!(BACKENDS as readonly string[]).includes(value)) {
    throw new Error(`IFAN_BACKEND="${value}" is not a backend: use one of ${BACKENDS.join(', ')}`);
  }
  return value as BackendName;
}

/** Activates a backend; returns null on success or the reason it is unavailable. */
async function tryActivate(name: BackendName, importModule: (name: string) => Promise<unknown>, checkFiles: boolean): Promise<string | null> {
  const moduleName = ({
    'tfjs-node-gpu': '@tensorflow/tfjs-node-gpu',
    'tfjs-node': '@tensorflow/tfjs-node',
    wasm: '@tensorflow/tfjs-backend-wasm',
    cpu: '@tensorflow/tfjs-backend-cpu',
  } as Record<BackendName, string | undefined>)[name];
  if (!moduleName) return 'not a Node backend';
  const tfName = name === 'wasm' ? 'wasm' : name === 'cpu' ? 'cpu' : 'tensorflow';
  if (checkFiles && tfName === 'tensorflow') {
    const missing = await missingNativeLibrary(moduleName);
    if (missing) return missing;
  }
  try {
    await importModule(moduleName);
  } catch (e) {
    return describeImportError(e, moduleName);
  }
  if (!tf.findBackendFactory(tfName)) return `${moduleName} loaded but registered no "${tfName}" backend`;
  const listeners = processListeners();
  try {
    const ok = await tf.setBackend(tfName);
    if (!ok) return `the ${tfName} backend failed to initialise`;
    await tf.ready();
  } catch (e) {
    return `the ${tfName} backend failed to initialise: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    listeners.removeAdded();
  }
  return null;
}

/**
 * The wasm backend's Emscripten module adds `uncaughtException` and `unhandledRejection` listeners
 * that rethrow the error from inside the listener, so Node prints the line of the throw (the
 * module's one 40 KB minified line) above the error and exits with code 7; tfjs removes them only
 * when the backend is disposed. Removing the listeners a backend added while it started keeps
 * Node's own report of an uncaught error: the error and its stack.
 */
function processListeners(): { removeAdded(): void } {
  const events = ['uncaughtException', 'unhandledRejection'];
  const proc: NodeJS.EventEmitter | undefined = typeof process !== 'undefined' && typeof process.listeners === 'function' ? process : undefined;
  const before = proc ? events.map((e) => proc.listeners(e)) : [];
  return {
    removeAdded() {
      if (!proc) return;
      events.forEach((e, i) => {
        for (const l of proc.listeners(e)) if (!before[i].includes(l)) proc.removeListener(e, l as (...args: unknown[]) => void);
      });
    },
  };
}

/**
 * Why an installed tfjs-node(-gpu) cannot work, found without importing it, or null: its import
 * registers some 150 kernels (printing a warning for each one the other native package registered)
 * before it checks for its native library, which its install script downloads (pnpm runs that script
 * only where allowed). `from` is where the package is resolved from.
 * @internal exported for tests
 */
export async function missingNativeLibrary(moduleName: string, from: string = import.meta.url): Promise<string | null> {
  if (typeof process === 'undefined' || !process.versions?.node) return null;
  try {
    // specifiers a bundler does not follow: this runs in Node only, and a browser bundle must not
    // pull in Node's built-ins
    const builtin = (name: string) => import(/* @vite-ignore */ name);
    const [{ createRequire }, { existsSync, readdirSync }, { dirname, join }] = (await Promise.all([
      builtin('node:module'),
      builtin('node:fs'),
      builtin('node:path'),
    ])) as [typeof import('node:module'), typeof import('node:fs'), typeof import('node:path')];
    const lib = join(dirname(createRequire(from).resolve(`${moduleName}/package.json`)), 'lib');
    const built = existsSync(lib) && readdirSync(lib).some((d) => d.startsWith('napi-v') && existsSync(join(lib, d, 'tfjs_binding.node')));
    return built ? null : 'installed without its native library (its install script, which downloads libtensorflow, did not run)';
  } catch {
    return null; // not resolvable here: importing it says why
  }
}

function describeImportError(e: unknown, moduleName: string): string {
  const err = e as { code?: string; message?: string };
  const msg = (err.message ?? String(e)).split('\n')[0];
  if (err.code === 'ERR_MODULE_NOT_FOUND' || err.code === 'MODULE_NOT_FOUND' || /Cannot find (module|package)/.test(msg)) {
    if (msg.includes(moduleName) || !msg.includes("'")) return 'not installed';
  }
  if (/tfjs_binding|napi|\.node\b|libtensorflow/i.test(msg)) return `installed without its native library (${msg})`;
  return msg;
}
