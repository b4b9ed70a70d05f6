// Entry of the gradient worker when the trainer runs from its TypeScript sources (tsx, vitest): module
// hooks are per thread, so tsx is registered here before the worker itself is loaded. The built
// package starts dist/gradient-worker.js instead.
import { register } from 'tsx/esm/api';

register();
await import('./gradient-worker.ts');
