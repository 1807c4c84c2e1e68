// `npm install` step: makes the optional native reduction addon available.
//
// - An installed package (from a tarball) ships a prebuilt binary for
//   linux-x64 in prebuilds/ (made by `npm pack`, see package.json `prepack`):
//   when it loads, nothing is compiled.
// - Otherwise (a clone, another platform, or `npm_config_build_from_source`),
//   node-gyp compiles native/ with one job per core.
// It never fails the install: without a compiler (or with TSMPI_NATIVE=0) the
// TypeScript kernels are used, and `tsmpirun --info` says so and why.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const say = (line) => process.stderr.write(`tsmpi: ${line}\n`);

if (process.env.TSMPI_NATIVE === '0') {
  say('TSMPI_NATIVE=0: not building the native reduction addon; the TypeScript kernels will be used.');
  process.exit(0);
}

const fromSource = ['1', 'true'].includes(process.env.npm_config_build_from_source ?? '');
const prebuilt = path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'tsmpi.node');
if (!fromSource && existsSync(prebuilt)) {
  try {
    require(prebuilt);
    say(`using the prebuilt native reduction addon (prebuilds/${process.platform}-${process.arch}); nothing to compile.`);
    process.exit(0);
  } catch (error) {
    say(`the prebuilt native reduction addon does not load here (${error.message.split('\n')[0]}); compiling it instead.`);
  }
}

let nodeGyp;
try {
  nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
} catch {
  nodeGyp = process.env.npm_config_node_gyp; // the copy npm ships, when node-gyp is not installed here
}
if (!nodeGyp || !existsSync(nodeGyp)) {
  say('node-gyp is not available: the native reduction addon was not built; the TypeScript kernels will be used.');
  process.exit(0);
}

const jobs = os.availableParallelism();
const args = [nodeGyp, 'rebuild', '--jobs', String(jobs)];
if (process.env.npm_config_nodedir === undefined && existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
say(`compiling the native reduction addon (node-gyp, ${jobs} jobs; about 10-30 s)...`);
const started = Date.now();
const result = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 600_000 });
const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (result.status === 0) {
  say(`built the native reduction addon in ${seconds} s (build/Release/tsmpi_reduce.node).`);
} else {
  const detail = (result.stderr ?? '').split('\n').filter((l) => /error/i.test(l)).slice(0, 3).join(' | ') || result.error?.message || `exit ${result.status}`;
  say(`the native reduction addon could not be built (${detail}); the TypeScript kernels will be used. Details: \`npx node-gyp rebuild\`.`);
}
process.exit(0);
