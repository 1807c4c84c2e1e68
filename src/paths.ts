/** Locations inside the installed package, from `src/` (tests) and `dist/src/` (built) alike. */
import { fileURLToPath } from 'node:url';

/** Absolute path of the package root (where package.json, proto/ and build/ are). */
export const PACKAGE_ROOT = fileURLToPath(new URL(import.meta.url.includes('/dist/') ? '../..' : '..', import.meta.url));
