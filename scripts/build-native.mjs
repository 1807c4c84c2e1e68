// `npm install` step: builds the optional native reduction addon with node-gyp.
// It never fails the install: without a compiler (or with TSMPI_NATIVE=0) the
// TypeScript kernels are used, and `tsmpirun --info` says so and why.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const say = (line) => process.stderr.write(`tsmpi: ${line}\n`);

if (process.env.TSMPI_NATIVE === '0') {
  say('TSMPI_NATIVE=0: not building the native reduction addon; the TypeScript kernels will be used.');
  process.exit(0);
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

const args = [nodeGyp, 'rebuild'];
if (process.env.npm_config_nodedir === undefined && existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
const result = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 600_000 });
if (result.status === 0) {
  say('built the native reduction addon (build/Release/tsmpi_reduce.node).');
} else {
  const detail = (result.stderr ?? '').split('\n').filter((l) => /error/i.test(l)).slice(0, 3).join(' | ') || result.error?.message || `exit ${result.status}`;
  say(`the native reduction addon could not be built (${detail}); the TypeScript kernels will be used. Details: \`npx node-gyp rebuild\`.`);
}
process.exit(0);
