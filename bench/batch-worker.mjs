// Worker-thread entry for train-step.ts: TypeScript hooks are per thread, so register tsx here,
// then load the worker itself.
import { register } from 'tsx/esm/api';

register();
await import('./batch-worker.ts');
