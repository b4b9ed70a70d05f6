import { afterAll } from 'vitest';
import { removeTempDirs } from './helpers';

// every test file's temporary folders go when its tests are done (helpers.ts is also imported by
// batch workers, outside vitest, so the hook is registered here)
afterAll(removeTempDirs);
