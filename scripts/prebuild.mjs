// `npm pack` step (prepack): a prebuilt, stripped linux-x64 (or whatever this
// machine is) binary of the native addon in prebuilds/, which
// scripts/build-native.mjs uses in an installed package so that dependents
// compile nothing. `postpack` (`--remove`) removes it again, so a clone always builds its own.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';

if (process.argv.includes('--remove')) {
  rmSync('prebuilds', { recursive: true, force: true });
  process.exit(0);
}

const require = createRequire(import.meta.url);
const env = { ...process.env, JOBS: String(os.availableParallelism()) };
// node-gyp builds offline only against headers it is pointed at.
if (env.npm_config_nodedir === undefined && existsSync('/usr/include/node/node_api.h')) env.npm_config_nodedir = '/usr';
env.PREBUILD_NODE_GYP ??= require.resolve('node-gyp/bin/node-gyp.js');
const bin = require.resolve('prebuildify/bin.js');
const result = spawnSync(process.execPath, [bin, '--napi', '--strip'], { stdio: 'inherit', env });
process.exit(result.status ?? 1);
