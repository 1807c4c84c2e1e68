/**
 * `tsmpirun` / `tsmpiexec`: start an SPMD job, as `mpirun` does.
 *
 *   tsmpirun -n 4 [options] program [args...]
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants as fsConstants, existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { closest } from 'fastest-levenshtein';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { config } from '../src/config.js';
import { checkEnvironment } from '../src/environment.js';
import { checkFilter, type InterfaceFilter } from '../src/transport/addresses.js';
import type { AgentLauncher } from './hosts.js';
import { runJob, TIMEOUT_EXIT_CODE } from './job.js';
import { mapRanks, parseHostList, PlanError, readHostfile, slurmHosts, type HostSpec, type JobMap } from './plan.js';

const require = createRequire(import.meta.url);
const pkg = require('../../package.json') as { version: string };

/** A command line tsmpirun cannot run: printed as `tsmpirun: <message>`, exit status 2. */
class UsageError extends Error {}

/** Options that take a value, in every spelling (so that their value is not taken for the program). */
const VALUE_OPTIONS = [
  '-n', '-np', '--np', '-x', '--timeout', '-H', '--host', '--hostfile', '--machinefile', '--map-by', '-N', '--npernode',
  '--launch-agent', '--prefix', '--if-include', '--if-exclude', '--transport', '--trace', '--output-filename',
];

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
  'tag-output': { type: 'boolean', default: false, describe: 'prefix every output line with [rank@host]' },
  'timestamp-output': { type: 'boolean', default: false, describe: 'prefix every output line with the time it was forwarded (ISO 8601, UTC)' },
  'output-filename': {
    type: 'string',
    requiresArg: true,
    describe: "also write each rank's output to DIR/1/rank.N/stdout and .../stderr (as Open MPI); made if missing",
  },
  trace: {
    type: 'string',
    requiresArg: true,
    describe: 'write a Chrome trace-event file of the whole job to FILE (every collective and p2p operation of every rank, clocks aligned); open it in ui.perfetto.dev',
  },
  timeout: { requiresArg: true, describe: `abort the job after SECONDS (exit status ${TIMEOUT_EXIT_CODE})`, coerce: positive('--timeout', true) },
  oversubscribe: { type: 'boolean', default: false, describe: 'allow more ranks than slots on the hosts given (on this host alone it is always allowed)' },
  H: { alias: ['host'], type: 'string', requiresArg: true, describe: 'hosts and their slots, h1:2,h2:2 (repeatable); ranks on other hosts start through ssh' },
  hostfile: { alias: ['machinefile'], type: 'string', requiresArg: true, describe: 'a file of hosts: "h1 slots=4 max_slots=8" (Open MPI) or "h1:4" (MPICH) lines, # comments' },
  'map-by': { choices: ['slot', 'node'], default: 'slot', describe: "slot: fill each host's slots in turn; node: one rank per host in turn" },
  N: { alias: ['npernode'], requiresArg: true, describe: 'ranks per host', coerce: positive('-N') },
  'display-map': { type: 'boolean', default: false, describe: 'print which host each rank runs on before the job starts' },
  'enable-recovery': {
    type: 'boolean',
    default: false,
    describe: "a rank that dies does not end the job: the others' operations with it fail with PeerFailedError (a task pool retries its tasks elsewhere); tsmpirun exits with its status at the end",
  },
  'launch-agent': { type: 'string', requiresArg: true, describe: 'command that runs a command on a host, as ssh does (default: TSMPI_RSH, or ssh)' },
  prefix: { type: 'string', requiresArg: true, describe: 'where tsmpi is installed on the other hosts (default: where it is here)' },
  transport: { choices: ['auto', 'grpc'], describe: 'how ranks of one host talk: auto (shared memory, when the native addon is there) or grpc (mutual-TLS gRPC for every byte); sets TSMPI_TRANSPORT' },
  'if-include': { type: 'string', requiresArg: true, describe: 'the only networks ranks use between hosts: CIDRs or interface names, comma-separated' },
  'if-exclude': { type: 'string', requiresArg: true, describe: 'networks ranks never use between hosts: CIDRs or interface names, comma-separated' },
  bundle: {
    type: 'boolean',
    default: true,
    describe: 'compile a TypeScript program once, in the launcher, with esbuild; --no-bundle runs it under tsx in every rank',
  },
  info: { type: 'boolean', default: false, describe: 'print the runtime configuration (every TSMPI_* setting and where its value comes from, algorithms, thresholds, transports) and exit' },
  json: { type: 'boolean', default: false, describe: 'with --info or doctor: print it as JSON' },
} as const;

function list(value: string | undefined): string[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/**
 * The job's hosts: `-H`, `--hostfile`, a Slurm allocation (inside one and
 * without -H/--hostfile), or this host alone.
 */
function chooseHosts(hostList: string[] | undefined, hostfile: string | undefined, np: number | undefined): { hosts: HostSpec[]; source: JobMap['source'] } {
  if (hostList !== undefined && hostfile !== undefined) throw new PlanError('-H and --hostfile: give one of them');
  if (hostList !== undefined) return { hosts: parseHostList(hostList), source: 'host list' };
  if (hostfile !== undefined) return { hosts: readHostfile(hostfile), source: 'hostfile' };
  const nodelist = process.env.SLURM_JOB_NODELIST;
  if (process.env.SLURM_JOB_ID !== undefined && nodelist !== undefined) {
    const expanded = spawnSync('scontrol', ['show', 'hostnames', nodelist], { encoding: 'utf8', timeout: 30_000 });
    if (expanded.status !== 0) throw new PlanError(`inside Slurm job ${process.env.SLURM_JOB_ID}, \`scontrol show hostnames ${nodelist}\` failed: ${(expanded.stderr || expanded.error?.message || '').trim()}`);
    return { hosts: slurmHosts(expanded.stdout.split('\n').filter(Boolean), process.env.SLURM_TASKS_PER_NODE ?? '1'), source: 'slurm' };
  }
  return { hosts: [{ name: os.hostname(), slots: np ?? 1, maxSlots: Infinity }], source: 'local' };
}

/**
 * Agents on other hosts start through ssh (or the launch agent, a command
 * that runs a command line on a host as ssh does, as Open MPI's
 * plm_rsh_agent); ssh's own options come from the user's ssh configuration.
 * The default ssh never prompts (BatchMode): its stdin is the agent's channel.
 */
function rshLauncher(command: string | undefined): AgentLauncher {
  const words = (command ?? 'ssh').trim().split(/\s+/);
  const [program, ...args] = words as [string, ...string[]];
  const options = command === undefined ? ['-o', 'BatchMode=yes'] : [];
  // The remote side is a shell command line: every word of it is quoted.
  return (host) => ({ command: program, args: [...args, ...options, host], quote: true });
}

/**
 * Inside a Slurm allocation: one srun step per host, with the agent as its
 * one task (Open MPI's Slurm launcher's options). srun's I/O forwarding is not
 * encrypted: the agent's channel is sealed with munge and then runs over TLS.
 */
function srunLauncher(): AgentLauncher {
  // munged's socket, as Slurm itself is told (AuthInfo=socket=...), or munge's default.
  const config = spawnSync('scontrol', ['show', 'config'], { encoding: 'utf8', timeout: 30_000 });
  const socket = /^AuthInfo\s*=.*\bsocket=([^,\s]+)/m.exec(config.stdout ?? '')?.[1];
  return (host) => ({
    command: 'srun',
    args: ['--nodes=1', '--ntasks=1', `--nodelist=${host}`, '--kill-on-bad-exit', '--overlap', '--cpu-bind=none', '--mpi=none', '--unbuffered', '--quiet'],
    quote: false,
    seal: { socket },
  });
}

/** The `--if-include`/`--if-exclude` filter, or `undefined` (after saying why) when it is malformed. */
function networkFilter(argv: { 'if-include'?: string | undefined; 'if-exclude'?: string | undefined }): InterfaceFilter | undefined {
  const network: InterfaceFilter = { include: list(argv['if-include']), exclude: list(argv['if-exclude']) };
  const malformed = checkFilter(network);
  if (malformed === undefined) return network;
  process.stderr.write(`tsmpirun: --if-include/--if-exclude: ${malformed}\n`);
  return undefined;
}

/** `tsmpirun doctor [options] [program]`: the pre-flight table (doctor.ts). */
async function runDoctor(argv: { H?: string | string[] | undefined; hostfile?: string | undefined; n?: number | undefined; 'launch-agent'?: string | undefined; prefix?: string | undefined; 'if-include'?: string | undefined; 'if-exclude'?: string | undefined; json: boolean }, rest: string[]): Promise<number> {
  const network = networkFilter(argv);
  if (network === undefined) return 2;
  let hosts;
  try {
    hosts = chooseHosts(argv.H === undefined ? undefined : ([] as string[]).concat(argv.H), argv.hostfile, argv.n);
  } catch (error) {
    if (!(error instanceof PlanError)) throw error;
    process.stderr.write(`tsmpirun: ${error.message}\n`);
    return 2;
  }
  const slurm = hosts.source === 'slurm';
  const command = argv['launch-agent'] ?? config.rsh;
  // Loaded only here: a job's launcher does not parse what it does not use.
  const { doctor, formatDoctor } = await import('./doctor.js');
  const { rows, code } = await doctor({
    version: pkg.version,
    hosts: hosts.hosts,
    launcher: slurm ? srunLauncher() : rshLauncher(command),
    via: slurm ? 'srun' : (command ?? 'ssh').trim().split(/\s+/)[0] ?? 'ssh',
    prefix: argv.prefix,
    network,
    program: rest[0],
  });
  process.stdout.write(argv.json ? `${JSON.stringify({ rows, ok: code === 0 }, null, 2)}\n` : formatDoctor(rows));
  return code;
}

async function main(): Promise<number> {
  // `tsmpirun doctor [options] [program]` takes the job's options.
  const raw = hideBin(process.argv);
  const isDoctor = raw[0] === 'doctor';
  const parser = yargs(normalize(isDoctor ? raw.slice(1) : raw))
    .scriptName('tsmpirun')
    .locale('en')
    .usage('$0 [options] <program> [args...]\n$0 doctor [-H hosts | --hostfile file] [program]\n\nStarts <program> as an SPMD job of -n ranks over mutual-TLS gRPC; `doctor` checks, before a job, what it needs on this host and every host given.')
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
  const env: Record<string, string> = {};
  const setBy: Record<string, string> = {};
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
    setBy[name] = `-x ${name}`;
  }
  const set = (name: string, value: string, option: string): void => {
    env[name] = value;
    setBy[name] = option;
  };
  if (argv.transport !== undefined) set('TSMPI_TRANSPORT', String(argv.transport), `--transport ${String(argv.transport)}`);
  if (argv['enable-recovery']) set('TSMPI_ENABLE_RECOVERY', '1', '--enable-recovery');
  if (argv.trace !== undefined) set('TSMPI_TRACE', '1', '--trace');
  if (argv.info) {
    const { formatInfo, runtimeInfo } = await import('./info.js');
    const info = runtimeInfo(pkg.version, { ...process.env, ...env }, setBy);
    process.stdout.write(argv.json ? `${JSON.stringify(info, null, 2)}\n` : formatInfo(info));
    return 0;
  }
  if (isDoctor) return runDoctor(argv, argv._.map(String));
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
  if (argv.trace !== undefined) {
    // Written at the end of the job: a folder that cannot take it is said before the job runs.
    try {
      accessSync(path.dirname(path.resolve(argv.trace)), fsConstants.W_OK);
    } catch (error) {
      process.stderr.write(`tsmpirun: --trace ${argv.trace}: cannot write there (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})\n`);
      return 2;
    }
  }
  const outputDir = argv['output-filename'];
  if (outputDir !== undefined) {
    try {
      mkdirSync(path.join(outputDir, '1'), { recursive: true });
    } catch (error) {
      process.stderr.write(`tsmpirun: --output-filename ${outputDir}: ${(error as Error).message}\n`);
      return 2;
    }
  }
  // The ranks' settings are checked here, before any rank starts.
  const { problems, unknown, settings } = checkEnvironment({ ...process.env, ...env });
  for (const name of unknown) process.stderr.write(`tsmpirun: warning: ${name} is not a tsmpi setting (did you mean ${closest(name, settings)}?)\n`);
  if (problems.length > 0) {
    for (const problem of problems) process.stderr.write(`tsmpirun: ${problem.message}\n`);
    return 2;
  }
  const network = networkFilter(argv);
  if (network === undefined) return 2;
  let map;
  let launcher: AgentLauncher;
  try {
    const hosts = chooseHosts(argv.H === undefined ? undefined : ([] as string[]).concat(argv.H), argv.hostfile, argv.n);
    map = mapRanks(hosts.hosts, hosts.source, { np: argv.n, mapBy: argv['map-by'] as 'slot' | 'node', npernode: argv.N, oversubscribe: argv.oversubscribe });
    launcher = hosts.source === 'slurm' ? srunLauncher() : rshLauncher(argv['launch-agent'] ?? config.rsh);
  } catch (error) {
    if (!(error instanceof PlanError)) throw error;
    process.stderr.write(`tsmpirun: ${error.message}\n`);
    return 2;
  }
  return runJob({
    map,
    program,
    args: rest,
    env,
    tagOutput: argv['tag-output'],
    timestampOutput: argv['timestamp-output'],
    outputDir,
    trace: argv.trace === undefined ? undefined : { file: argv.trace, version: pkg.version },
    timeoutSec: argv.timeout,
    bundle: argv.bundle,
    launcher,
    prefix: argv.prefix,
    network,
    displayMap: argv['display-map'],
    recovery: argv['enable-recovery'] || (env.TSMPI_ENABLE_RECOVERY ?? process.env.TSMPI_ENABLE_RECOVERY) === '1',
    heartbeats: { intervalMs: 1000, timeoutMs: config.hostTimeoutMs },
  });
}

/**
 * Runs `tsmpirun` with this process's arguments and exits with the job's
 * status. `dist/bin/tsmpirun.js` calls it once it has loaded the launcher's
 * bundle (scripts/bundle-runtime.mjs), which therefore runs nothing itself.
 */
export function run(): void {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`tsmpirun: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exit(2);
    },
  );
}
