/**
 * `node --import tsmpi/preload program`: loads tsmpi and starts its
 * preparation (bootstrap, key pair) before the program itself loads, so that
 * the two overlap, and so that tsmpi's modules load before a TypeScript
 * loader's hooks see them. `tsmpirun` adds it for every Node program; it has
 * no effect outside a launcher.
 */
import { prepare } from './runtime.js';

prepare();
