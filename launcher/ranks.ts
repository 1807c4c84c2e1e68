/**
 * Starting one rank's process on this host, for the launcher (ranks of its
 * own host) and for a host agent (ranks of its host) alike: the command line
 * of the program, the rank's environment, the bootstrap pipe (fd 3), and the
 * fatal report a dying rank writes back on it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Duplex, Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type { Bootstrap, FatalReport, PeerLostReport } from '../src/runtime.js';

/** What to run in every rank. */
export interface ProgramSpec {
  /**
   * `bundle`: the program compiled by the launcher (launcher/compile.ts), run by Node;
   * `typescript`: a TypeScript file run under tsx (`--no-bundle`); `javascript`: run by Node;
   * `executable`: anything else, executed.
   */
  kind: 'bundle' | 'typescript' | 'javascript' | 'executable';
  /** The file to run: the bundle, the program, or the executable. */
  file: string;
  args: string[];
}

const TS_EXTENSIONS = new Set(['.ts', '.mts', '.cts', '.tsx']);
const JS_EXTENSIONS = new Set(['.js', '.mjs', '.cjs']);

/** How `program` runs, from its extension (a compiled bundle replaces a TypeScript program). */
export function programKind(program: string): ProgramSpec['kind'] {
  const ext = path.extname(program);
  if (TS_EXTENSIONS.has(ext)) return 'typescript';
  if (JS_EXTENSIONS.has(ext)) return 'javascript';
  return 'executable';
}

/** tsmpi's preload (see src/preload.ts), from this installation's runtime bundle (scripts/bundle-runtime.mjs). */
const PRELOAD = new URL('../runtime/preload.js', import.meta.url).href;

/** tsx's loader, as `--import tsx` would find it from here (its `exports` has one target for every condition). */
function tsxLoader(): string {
  return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
}

/**
 * The flags of a rank's Node: TLS 1.3 at least, and V8's major collections
 * without incremental marking unless `TSMPI_INCREMENTAL_MARKING=1` in the
 * rank's environment: with a few MB of live heap, V8 answers the external
 * memory of grpc-js's per-message buffers with an incremental mark-compact
 * every few milliseconds, which halved the bandwidth between hosts
 * (bench/README.md). The build writes the runtime's code cache with the
 * default flags (scripts/bundle-runtime.mjs): V8 takes a cache only from a
 * process with its flags.
 */
export function rankNodeFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  return [...(env.TSMPI_INCREMENTAL_MARKING === '1' ? [] : ['--no-incremental-marking']), '--tls-min-v1.3'];
}

/**
 * The command line that starts `program`. Node programs run with
 * {@link rankNodeFlags} and tsmpi's preload first (it overlaps key
 * generation with the program's loading, and keeps tsmpi's modules out of a
 * TypeScript loader's hooks).
 */
export function commandFor(program: ProgramSpec, env: NodeJS.ProcessEnv = process.env): { command: string; args: string[] } {
  const node = [...rankNodeFlags(env), '--import', PRELOAD];
  switch (program.kind) {
    case 'bundle':
      return { command: process.execPath, args: [...node, '--enable-source-maps', program.file, ...program.args] };
    case 'typescript':
      return { command: process.execPath, args: [...node, '--import', tsxLoader(), program.file, ...program.args] };
    case 'javascript':
      return { command: process.execPath, args: [...node, program.file, ...program.args] };
    case 'executable':
      return { command: program.file, args: program.args };
  }
}

/** Where a rank sits in the job: the `TSMPI_COMM_WORLD_*` variables it sees. */
export interface RankPlace {
  rank: number;
  size: number;
  localRank: number;
  localSize: number;
  node: number;
}

/** The handlers of one rank's process. */
export interface RankEvents {
  exit(code: number | null, signal: NodeJS.Signals | null, spawnError?: Error): void;
  fatal(report: FatalReport): void;
  /** The rank found another rank dead (its failure after this is a consequence). */
  peerLost?(rank: number): void;
}

/** How long an exit waits for the rest of the rank's reports (its pipe's end) before it is told. */
const REPORTS_GRACE_MS = 200;

/** One rank's process: started at once, given its bootstrap later (once the coordinator is up). */
export class RankProcess {
  readonly place: RankPlace;
  readonly child: ChildProcess;
  exited = false;
  fatal: FatalReport | undefined;

  constructor(program: ProgramSpec, place: RankPlace, env: NodeJS.ProcessEnv, withStdin: boolean, events: RankEvents) {
    this.place = place;
    const { command, args } = commandFor(program, env);
    this.child = spawn(command, args, {
      stdio: [withStdin ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'],
      detached: true, // its own process group, so that what it starts is stopped with it
      env: {
        ...env,
        TSMPI_BOOTSTRAP_FD: '3',
        TSMPI_COMM_WORLD_RANK: String(place.rank),
        TSMPI_COMM_WORLD_SIZE: String(place.size),
        TSMPI_COMM_WORLD_LOCAL_RANK: String(place.localRank),
        TSMPI_COMM_WORLD_LOCAL_SIZE: String(place.localSize),
        TSMPI_COMM_WORLD_NODE_RANK: String(place.node),
      },
    });
    const pipe = this.#pipe;
    pipe?.on('error', () => undefined);
    let pending = '';
    pipe?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        try {
          const report = JSON.parse(line) as FatalReport | PeerLostReport;
          if (report.type === 'fatal') {
            this.fatal = report;
            events.fatal(report);
          } else if (report.type === 'peer-lost' && Number.isInteger(report.rank)) {
            events.peerLost?.(report.rank);
          }
        } catch {
          // not a report
        }
      }
    });
    this.child.stdin?.on('error', () => undefined);
    const exit = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error): void => {
      if (this.exited) return;
      this.exited = true;
      events.exit(code, signal, spawnError);
    };
    this.child.on('error', (error) => exit(null, null, error));
    // What the rank wrote on its report pipe before it ended is read first, so that an exit
    // comes with its fatal report and with what it knew of others' deaths.
    this.child.on('exit', (code, signal) => {
      if (pipe === null || pipe.readableEnded || pipe.destroyed) return exit(code, signal);
      const timer = setTimeout(() => exit(code, signal), REPORTS_GRACE_MS);
      const done = (): void => {
        clearTimeout(timer);
        exit(code, signal);
      };
      pipe.once('end', done);
      pipe.once('close', done);
    });
  }

  get #pipe(): Duplex | null {
    return this.child.stdio[3] as Duplex | null;
  }

  get stdout(): Readable | null {
    return this.child.stdout;
  }

  get stderr(): Readable | null {
    return this.child.stderr;
  }

  /** Hands the rank its bootstrap (one JSON line on fd 3; never argv, environment or files). */
  bootstrap(bootstrap: Bootstrap): void {
    const pipe = this.#pipe;
    if (!this.exited && pipe?.writable) pipe.write(`${JSON.stringify(bootstrap)}\n`);
  }

  /** Signals the rank's process group. */
  signal(signal: NodeJS.Signals): void {
    if (this.exited || this.child.pid === undefined) return;
    try {
      process.kill(-this.child.pid, signal);
    } catch {
      this.child.kill(signal);
    }
  }
}
