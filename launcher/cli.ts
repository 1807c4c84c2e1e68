#!/usr/bin/env node
/**
 * `tsmpirun` / `tsmpiexec`: start an SPMD job, as `mpirun` does.
 *
 *   tsmpirun -n 4 [options] program [args...]
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { closest } from 'fastest-levenshtein';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { checkEnvironment } from '../src/environment.js';
import { backendInfo } from '../src/reduce/native.js';
import { runJob, TIMEOUT_EXIT_CODE } from './job.js';

const require = createRequire(import.meta.url);
const pkg = require('../../package.json') as { version: string };

/** A command line tsmpirun cannot run: printed as `tsmpirun: <message>`, exit status 2. */
class UsageError extends Error {}

/** Options that take a value, in every spelling (so that their value is not taken for the program). */
const VALUE_OPTIONS = ['-n', '-np', '--np', '-x', '--timeout', '--bind-host'];

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
      if (prev === undefined || !VALUE_OPTIONS.includes(prev)) seenProgram = true;
    }
  }
  return out;
}

/** A coerce function for an option whose value must be a positive integer (or, with `fraction`, a positive number). */
function positive(flag: string, fraction = false) {
  return (raw: unknown): number | undefined => {
    if (raw === undefined) return undefined;
    const text = String(Array.isArray(raw) ? raw.at(-1) : raw);
    const value = Number(text);
    const ok = text.trim() !== '' && Number.isFinite(value) && value > 0 && (fraction || Number.isSafeInteger(value));
    if (!ok) throw new UsageError(`${flag} ${text}: expected a positive ${fraction ? 'number' : 'integer'}`);
    return value;
  };
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

/** Every name yargs may put in argv for the options below, with the flag a user would type. */
function knownKeys(options: Record<string, { alias?: readonly string[]; describe: string }>): Map<string, string> {
  const known = new Map<string, string>([['_', ''], ['$0', ''], ['help', '--help'], ['h', '-h'], ['version', '--version']]);
  for (const [name, { alias = [] }] of Object.entries(options)) {
    for (const key of [name, ...alias]) {
      const flag = key.length === 1 ? `-${key}` : `--${key}`;
      known.set(key, flag);
      known.set(key.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase()), flag);
    }
  }
  known.set('bundle', '--bundle').set('no-bundle', '--no-bundle');
  return known;
}

const OPTIONS = {
  n: { alias: ['np'], requiresArg: true, describe: 'number of ranks to start (default 1)', coerce: positive('-n') },
  x: { type: 'string', describe: 'export VAR (from this environment) or VAR=value to every rank; repeatable' },
  'tag-output': { type: 'boolean', default: false, describe: 'prefix every output line with [rank]' },
  timeout: { requiresArg: true, describe: `abort the job after SECONDS (exit status ${TIMEOUT_EXIT_CODE})`, coerce: positive('--timeout', true) },
  oversubscribe: { type: 'boolean', default: false, describe: 'accepted for mpirun compatibility: more ranks than cores is always allowed' },
  'bind-host': { type: 'string', default: '127.0.0.1', describe: 'interface the ranks listen on', hidden: true },
  bundle: {
    type: 'boolean',
    default: true,
    describe: 'compile a TypeScript program once, in the launcher, with esbuild; --no-bundle runs it under tsx in every rank',
  },
  info: { type: 'boolean', default: false, describe: 'print the runtime configuration and exit' },
} as const;

async function main(): Promise<number> {
  const parser = yargs(normalize(hideBin(process.argv)))
    .scriptName('tsmpirun')
    .locale('en')
    .usage('$0 [options] <program> [args...]\n\nStarts <program> as an SPMD job of -n ranks over mutual-TLS gRPC.')
    .parserConfiguration({ 'halt-at-non-option': true, 'populate--': false })
    .options(OPTIONS)
    .check((argv) => {
      // Unknown options, with the closest known one (yargs' strict mode suggests commands only).
      const known = knownKeys(OPTIONS);
      for (const key of Object.keys(argv)) {
        if (known.has(key)) continue;
        const flag = key.length === 1 ? `-${key}` : `--${key}`;
        const flags = [...new Set([...known.values()].filter(Boolean))];
        throw new UsageError(`unknown option ${flag} (did you mean ${closest(flag, flags)}?)`);
      }
      return true;
    })
    .version(pkg.version)
    .alias('h', 'help')
    .exitProcess(false)
    .fail((message, error) => {
      throw error instanceof UsageError ? error : new UsageError(message ?? error?.message ?? 'bad command line');
    });

  let argv;
  try {
    argv = await parser.parse();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`tsmpirun: ${error.message} (try --help)\n`);
    return 2;
  }
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
  const late = rest.findIndex((arg, i) => ['-n', '-np', '--np'].includes(arg) && /^\d+$/.test(rest[i + 1] ?? ''));
  if (late >= 0 && argv.n === undefined) {
    process.stderr.write(
      `tsmpirun: warning: ${rest[late]} ${rest[late + 1]} comes after the program, so it is passed to the program and 1 rank starts; put tsmpirun's options first: tsmpirun ${rest[late]} ${rest[late + 1]} ${program} ...\n`,
    );
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
  // The ranks' settings are checked here, before any rank starts.
  const { problems, unknown, settings } = checkEnvironment({ ...process.env, ...env });
  for (const name of unknown) process.stderr.write(`tsmpirun: warning: ${name} is not a tsmpi setting (did you mean ${closest(name, settings)}?)\n`);
  if (problems.length > 0) {
    for (const problem of problems) process.stderr.write(`tsmpirun: ${problem.message}\n`);
    return 2;
  }
  return runJob({
    np: argv.n ?? 1,
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
