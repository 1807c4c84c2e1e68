#!/usr/bin/env node
/**
 * `tsmpirun` / `tsmpiexec`: start an SPMD job, as `mpirun` does.
 *
 *   tsmpirun -n 4 [options] program [args...]
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { backendInfo } from '../src/reduce/native.js';
import { runJob, TIMEOUT_EXIT_CODE } from './job.js';

const require = createRequire(import.meta.url);
const pkg = require('../../package.json') as { version: string };

/** `-np` is the traditional spelling; yargs would read it as `-n -p`. */
function normalize(argv: string[]): string[] {
  const out: string[] = [];
  let seenProgram = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!seenProgram && arg === '-np') out.push('--np');
    else out.push(arg);
    if (!seenProgram && !arg.startsWith('-')) {
      const prev = argv[i - 1];
      const takesValue = prev !== undefined && ['-n', '--np', '-np', '-x', '--timeout', '--bind-host'].includes(prev);
      if (!takesValue) seenProgram = true;
    }
  }
  return out;
}

function reductions(): string {
  const b = backendInfo();
  return b.backend === 'native' ? `reductions: native SIMD kernels (${b.isa})` : `reductions: TypeScript kernels, because ${b.reason}`;
}

function info(): void {
  const lines = [
    `tsmpi ${pkg.version}`,
    `node: ${process.version} (${process.platform}/${process.arch})`,
    'transport: gRPC over mutual TLS 1.3 (@grpc/grpc-js), bulk data server->client',
    reductions(),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

async function main(): Promise<number> {
  const parser = yargs(normalize(hideBin(process.argv)))
    .scriptName('tsmpirun')
    .usage('$0 [options] <program> [args...]\n\nStarts <program> as an SPMD job of -n ranks over mutual-TLS gRPC.')
    .parserConfiguration({ 'halt-at-non-option': true, 'populate--': false })
    .option('n', { alias: ['np'], type: 'number', describe: 'number of ranks to start', default: 1 })
    .option('x', {
      type: 'string',
      describe: 'export VAR (from this environment) or VAR=value to every rank; repeatable',
    })
    .option('tag-output', { type: 'boolean', default: false, describe: 'prefix every output line with [rank]' })
    .option('timeout', { type: 'number', describe: `abort the job after SECONDS (exit status ${TIMEOUT_EXIT_CODE})` })
    .option('oversubscribe', { type: 'boolean', default: false, describe: 'accepted for mpirun compatibility: more ranks than cores is always allowed' })
    .option('bind-host', { type: 'string', default: '127.0.0.1', describe: 'interface the ranks listen on', hidden: true })
    .option('bundle', {
      type: 'boolean',
      default: true,
      describe: 'compile a TypeScript program once, in the launcher, with esbuild; --no-bundle runs it under tsx in every rank',
    })
    .option('info', { type: 'boolean', default: false, describe: 'print the runtime configuration and exit' })
    .version(pkg.version)
    .alias('h', 'help')
    .strict()
    .exitProcess(false);

  const argv = await parser.parse();
  if (argv.help || argv.version) return 0;
  if (argv.info) {
    info();
    return 0;
  }
  const [program, ...rest] = argv._.map(String);
  if (program === undefined) {
    process.stderr.write('tsmpirun: no program given (try --help)\n');
    return 2;
  }
  if (/\.[cm]?[jt]sx?$/.test(program) && !existsSync(program)) {
    process.stderr.write(`tsmpirun: cannot find the program ${program}\n`);
    return 2;
  }
  const np = argv.n;
  if (!Number.isSafeInteger(np) || np < 1) {
    process.stderr.write(`tsmpirun: -n ${np}: the number of ranks must be a positive integer\n`);
    return 2;
  }
  if (argv.timeout !== undefined && !(argv.timeout > 0)) {
    process.stderr.write(`tsmpirun: --timeout ${argv.timeout}: must be a positive number of seconds\n`);
    return 2;
  }
  const env: Record<string, string> = {};
  const exports = argv.x === undefined ? [] : ([] as string[]).concat(argv.x);
  for (const spec of exports) {
    const eq = spec.indexOf('=');
    const name = eq < 0 ? spec : spec.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      process.stderr.write(`tsmpirun: -x ${spec}: not an environment variable name\n`);
      return 2;
    }
    const value = eq < 0 ? process.env[name] : spec.slice(eq + 1);
    if (value !== undefined) env[name] = value;
  }
  return runJob({
    np,
    program,
    args: rest,
    env,
    tagOutput: argv['tag-output'],
    timeoutSec: argv.timeout,
    bindHost: argv['bind-host'],
    bundle: argv.bundle,
  });
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`tsmpirun: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  },
);
