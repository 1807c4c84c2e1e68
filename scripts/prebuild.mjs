// `npm pack` step (prepack): a prebuilt, stripped binary of the native addon
// for this platform in prebuilds/, which scripts/build-native.mjs uses in an
// installed package so that dependents compile nothing. It is built in a
// scratch copy of native/, so that this checkout's own build/ is left alone.
// `postpack` (`--remove`) removes prebuilds/ again, so a clone always builds its own.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
if (process.argv.includes('--remove')) {
  rmSync(path.join(root, 'prebuilds'), { recursive: true, force: true });
  process.exit(0);
}

const require = createRequire(import.meta.url);
const scratch = mkdtempSync(path.join(os.tmpdir(), 'tsmpi-prebuild-'));
for (const entry of ['package.json', 'binding.gyp', 'native']) cpSync(path.join(root, entry), path.join(scratch, entry), { recursive: true });
symlinkSync(path.join(root, 'node_modules'), path.join(scratch, 'node_modules'));
const env = { ...process.env, JOBS: String(os.availableParallelism()) };
// node-gyp builds offline only against headers it is pointed at.
if (env.npm_config_nodedir === undefined && existsSync('/usr/include/node/node_api.h')) env.npm_config_nodedir = '/usr';
env.PREBUILD_NODE_GYP ??= require.resolve('node-gyp/bin/node-gyp.js');
const bin = require.resolve('prebuildify/bin.js');
const result = spawnSync(process.execPath, [bin, '--napi', '--strip', '--cwd', scratch, '--out', root], { stdio: 'inherit', env });
rmSync(scratch, { recursive: true, force: true });
process.exit(result.status ?? 1);
