/**
 * The hosts of a running job, as the launcher sees them: its own host, whose
 * ranks it starts itself, and remote hosts, whose ranks a host agent starts
 * (launcher/agent.ts), reached through ssh (or srun in a Slurm allocation).
 * Both report the same events to the job (launcher/job.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import path from 'node:path';
import type { FatalReport } from '../src/runtime.js';
import { agentMessages } from '../src/transport/wire.js';
import type { AgentBootstrap, AgentInput, AgentOutput, AgentStart } from './agent-protocol.js';
import { STDERR, STDOUT } from './agent-protocol.js';
import type { AgentConnection } from './agent-server.js';
import { MessageChannel } from './channel.js';
import { makeShmDir, removeShm } from '../src/transport/shm-cleanup.js';
import { forwardLines, outputFile, type LineSink } from './output.js';
import { RankProcess, type ProgramSpec, type RankPlace } from './ranks.js';

/** What a host tells the job. */
export interface HostEvents {
  started(rank: number, pid: number): void;
  exit(rank: number, code: number | null, signal: NodeJS.Signals | null, spawnError?: string): void;
  fatal(rank: number, report: FatalReport): void;
  /** `rank` found `dead` dead (reported by local ranks only). */
  peerLost?(rank: number, dead: number): void;
  /** The host cannot be reached any more (its agent died, its link went down, it never started); its ranks are gone. */
  lost(reason: string): void;
}

/** Per-rank credentials, handed over once the coordinator is up. */
export interface HostBootstrap {
  jobId: string;
  caPem: string;
  enroll: string[];
  coordinator: string[];
  tokens: Map<number, Buffer>;
  network: { multiHost: boolean; include: string[]; exclude: string[] };
}

/** One host of a running job. */
export interface Host {
  readonly name: string;
  readonly node: number;
  /** Hands every rank of this host its bootstrap. */
  bootstrap(b: HostBootstrap): void;
  /** Signals every rank of this host. */
  signal(signal: NodeJS.Signals): void;
  /** Rank 0's standard input, when rank 0 is here. */
  stdin(data: Buffer | null): void;
  /** Resolves once the host's output has been forwarded and its agent (if any) is gone. */
  readonly done: Promise<void>;
  /** Ends the host's side of the job: closes its agent's channel (the agent stops what is left). */
  close(): void;
}

/** Output options shared by the hosts. */
export interface OutputOptions {
  /** Prefix each line with `[rank@host] ` (`--tag-output`). */
  tagOutput: boolean;
  /** Prefix each line with the time it was forwarded (`--timestamp-output`). */
  timestampOutput: boolean;
  /** Also write each rank's output to `DIR/1/rank.N/{stdout,stderr}` (`--output-filename DIR`). */
  outputDir: string | undefined;
  stdout: Writable;
  stderr: Writable;
}

/** Where `rank`'s `stream` goes. */
function sink(options: OutputOptions, rank: number, host: string, stream: 'stdout' | 'stderr'): LineSink {
  return {
    to: options[stream],
    tag: options.tagOutput ? `[${rank}@${host}] ` : '',
    timestamp: options.timestampOutput,
    file: options.outputDir === undefined ? undefined : outputFile(options.outputDir, rank, stream),
  };
}

/** The launcher's own host: its ranks are the launcher's children. */
export class LocalHost implements Host {
  readonly name: string;
  readonly node: number;
  readonly done: Promise<void>;
  readonly #ranks: RankProcess[] = [];

  constructor(name: string, node: number, program: ProgramSpec, places: RankPlace[], env: NodeJS.ProcessEnv, output: OutputOptions, events: HostEvents) {
    this.name = name;
    this.node = node;
    const outputs: Promise<void>[] = [];
    for (const place of places) {
      const r = new RankProcess(program, place, env, place.rank === 0, {
        exit: (code, signal, error) => events.exit(place.rank, code, signal, error?.message),
        fatal: (report) => events.fatal(place.rank, report),
        peerLost: (dead) => events.peerLost?.(place.rank, dead),
      });
      this.#ranks.push(r);
      if (r.child.pid !== undefined) events.started(place.rank, r.child.pid);
      if (r.stdout) outputs.push(forwardLines(r.stdout, sink(output, place.rank, name, 'stdout')));
      if (r.stderr) outputs.push(forwardLines(r.stderr, sink(output, place.rank, name, 'stderr')));
    }
    this.done = Promise.all(outputs).then(() => undefined);
  }

  #shm: { jobId: string; dir: string } | undefined;

  bootstrap(b: HostBootstrap): void {
    const dir = this.#ranks.length > 1 ? makeShmDir(b.jobId) : undefined;
    if (dir !== undefined) this.#shm = { jobId: b.jobId, dir };
    for (const r of this.#ranks) {
      r.bootstrap({
        jobId: b.jobId,
        rank: r.place.rank,
        size: r.place.size,
        enroll: b.enroll,
        coordinator: b.coordinator,
        caPem: b.caPem,
        token: b.tokens.get(r.place.rank)?.toString('base64') ?? '',
        host: this.name,
        node: this.node,
        network: b.network,
        shmDir: dir,
      });
    }
  }

  signal(signal: NodeJS.Signals): void {
    for (const r of this.#ranks) r.signal(signal);
  }

  stdin(data: Buffer | null): void {
    const stdin = this.#ranks.find((r) => r.place.rank === 0)?.child.stdin;
    if (stdin === undefined || stdin === null || stdin.destroyed) return;
    if (data === null) stdin.end();
    else stdin.write(data);
  }

  close(): void {
    void this.done.then(() => this.#shm && removeShm(this.#shm.jobId, this.#shm.dir));
  }
}

/**
 * How to start an agent on a remote host: the command line before the
 * agent's own (node and its script); `quote`: that one is a shell command
 * line on the other side (ssh), so its words are quoted; `seal`: the
 * launcher's channel is not encrypted (srun), so the agent gets a sealed
 * hello and connects back over TLS (`socket`: munged's, when not the default).
 */
export type AgentLauncher = (host: string) => { command: string; args: string[]; quote: boolean; seal?: { socket?: string | undefined } };

/** `word` quoted for a POSIX shell. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * The command that starts the agent of `host` through `launcher`:
 * `node <root>/dist/bin/agent.js ...flags` (quoted for the other side's
 * shell when the launcher asks), after the launcher's own words.
 */
export function agentCommand(launcher: AgentLauncher, host: string, root: string, flags: readonly string[]): { command: string; args: string[] } {
  const launch = launcher(host);
  const words = [process.execPath, path.join(root, 'dist', 'bin', 'agent.js'), ...flags];
  return { command: launch.command, args: [...launch.args, ...(launch.quote ? words.map(shellQuote) : words)] };
}

/** Timing of the launcher <-> agent heartbeats. */
export interface Heartbeats {
  /** How often each side speaks when it has nothing else to say. */
  intervalMs: number;
  /** Silence after which the other side is taken for lost. */
  timeoutMs: number;
}

/** A remote host, run by its agent over ssh or srun. */
export class AgentHost implements Host {
  readonly name: string;
  readonly node: number;
  readonly done: Promise<void>;
  readonly #child: ChildProcess;
  /** The agent's stdin and stdout: its channel (ssh), or only its sealed hello and lifeline (Slurm). */
  readonly #stdio: MessageChannel<AgentOutput, AgentInput>;
  /** The channel messages travel on, once there is one; messages wait in #queue until then. */
  #channel: MessageChannel<AgentOutput, AgentInput> | undefined;
  readonly #queue: AgentInput[] = [];
  readonly #events: HostEvents;
  readonly #streams = new Map<string, PassThrough>();
  readonly #outputs: Promise<void>[] = [];
  readonly #output: OutputOptions;
  readonly #live = new Set<number>();
  #stderr = '';
  #lost = false;
  #closed = false;
  /** The agent said it started its ranks. */
  #started = false;
  /** Its channel is sealed and then TLS (Slurm), rather than its stdio. */
  readonly sealed: boolean;
  #lastHeard = Date.now();
  readonly #beat: NodeJS.Timeout;

  /**
   * Starts the agent with `launch`. Without `secure`, its stdin and stdout
   * are the channel (inside ssh). With it (Slurm), its stdin carries only the
   * sealed hello, and the channel is the TLS connection the agent makes.
   */
  constructor(
    launch: { command: string; args: string[] },
    start: AgentStart,
    heartbeats: Heartbeats,
    output: OutputOptions,
    events: HostEvents,
    secure?: { sealed: Promise<string>; connection: Promise<AgentConnection> },
  ) {
    this.name = start.host;
    this.node = start.node;
    this.sealed = secure !== undefined;
    this.#events = events;
    this.#output = output;
    for (const r of start.ranks) this.#live.add(r.rank);
    // --output-filename: every rank gets its files, as on the launcher's host, even one that prints nothing.
    if (output.outputDir !== undefined) for (const r of start.ranks) for (const which of [STDOUT, STDERR]) this.#stream(r.rank, which);
    this.#child = spawn(launch.command, launch.args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const child = this.#child;
    child.stderr?.on('data', (chunk: Buffer) => {
      this.#stderr = (this.#stderr + chunk.toString('utf8')).slice(-2000);
    });
    const exited = new Promise<void>((resolve) => {
      child.on('error', (error) => {
        this.#lose(`cannot start ${launch.command}: ${error.message}`);
        resolve();
      });
      child.on('close', (code, signal) => {
        const status = signal ? `signal ${signal}` : `exit status ${code}`;
        if (!this.#started) this.#lose(`cannot start its agent with ${launch.command} (${status})${this.#why()}`);
        else if (this.#live.size > 0) this.#lose(`its agent's connection ended (${launch.command} ${status})${this.#why()}`);
        resolve();
      });
    });
    const broke = (why?: string): void => {
      // Once every rank has reported its exit, the channel has nothing left to carry.
      if (why !== undefined && this.#live.size > 0) this.#lose(`its agent's channel broke: ${why}`);
    };
    this.#stdio = new MessageChannel<AgentOutput, AgentInput>(
      child.stdout as Readable,
      child.stdin as Writable,
      { in: agentMessages.output, out: agentMessages.input },
      (message) => (secure === undefined ? this.#onMessage(message) : undefined),
      broke,
    );
    if (secure === undefined) this.#open(this.#stdio);
    else {
      secure.sealed.then(
        (credential) => this.#stdio.send({ sealed: { credential } }),
        (error: unknown) => this.#lose(`cannot seal its hello with munge: ${(error as Error).message}`),
      );
      void secure.connection.then((connection) => {
        connection.attach((message) => this.#onMessage(message), broke);
        this.#open(connection.channel);
      });
    }
    this.#send({ start });
    this.#beat = setInterval(() => {
      this.#send({ heartbeat: {} });
      // The agent's silence counts from the moment it has a channel.
      if (this.#channel === undefined) this.#lastHeard = Date.now();
      if (!this.#lost && Date.now() - this.#lastHeard > heartbeats.timeoutMs) {
        this.#lose(`no heartbeat from its agent for ${heartbeats.timeoutMs} ms: the host or its link is down`);
        child.kill('SIGKILL');
      }
    }, heartbeats.intervalMs);
    this.done = exited.then(() => Promise.all(this.#outputs)).then(() => clearInterval(this.#beat));
  }

  #open(channel: MessageChannel<AgentOutput, AgentInput>): void {
    this.#channel = channel;
    this.#lastHeard = Date.now();
    for (const message of this.#queue.splice(0)) channel.send(message);
    if (this.#closed) channel.close();
  }

  #send(message: AgentInput): void {
    if (this.#channel !== undefined) this.#channel.send(message);
    else if (message.heartbeat === undefined) this.#queue.push(message);
  }

  /** The agent's (or ssh's) last words, for messages. */
  #why(): string {
    const text = this.#stderr.trim().split('\n').slice(-3).join(' | ');
    return text ? `: ${text}` : '';
  }

  #lose(reason: string): void {
    if (this.#lost || this.#closed) return;
    this.#lost = true;
    for (const stream of this.#streams.values()) stream.end();
    this.#events.lost(reason);
  }

  #stream(rank: number, which: number): PassThrough {
    const key = `${rank}:${which}`;
    let stream = this.#streams.get(key);
    if (stream === undefined) {
      stream = new PassThrough();
      this.#streams.set(key, stream);
      this.#outputs.push(forwardLines(stream, sink(this.#output, rank, this.name, which === STDOUT ? 'stdout' : 'stderr')));
    }
    return stream;
  }

  #onMessage(message: AgentOutput): void {
    this.#lastHeard = Date.now();
    if (message.output) this.#stream(message.output.rank, message.output.stream).write(Buffer.from(message.output.data));
    else if (message.started) {
      this.#started = true;
      for (const { rank, pid } of message.started.pids) this.#events.started(rank, pid);
    }
    else if (message.fatal) {
      const { rank, message: text, stack, consequence, op } = message.fatal;
      this.#events.fatal(rank, { type: 'fatal', message: text, stack, consequence, ...(op ? { op } : {}) });
    }
    else if (message.exited) {
      const { rank, code, signal, error } = message.exited;
      for (const which of [1, 2]) this.#streams.get(`${rank}:${which}`)?.end();
      this.#live.delete(rank);
      this.#events.exit(rank, code < 0 ? null : code, (signal || null) as NodeJS.Signals | null, error || undefined);
    } else if (message.failed) {
      this.#lose(message.failed.reason);
    }
  }

  bootstrap(b: HostBootstrap): void {
    const bootstrap: AgentBootstrap = {
      jobId: b.jobId,
      caPem: b.caPem,
      enroll: b.enroll,
      coordinator: b.coordinator,
      tokens: [...b.tokens].map(([rank, token]) => ({ rank, token })),
      ifInclude: b.network.include,
      ifExclude: b.network.exclude,
    };
    this.#send({ bootstrap });
  }

  signal(signal: NodeJS.Signals): void {
    this.#send({ signal: { signal } });
    if (signal === 'SIGKILL' && this.#live.size > 0) {
      // Past the grace period: the agent has had its chance; end the channel, which makes it kill what is left.
      this.close();
    }
  }

  stdin(data: Buffer | null): void {
    this.#send({ stdin: { data: data ?? Buffer.alloc(0), end: data === null } });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#channel?.close();
    this.#stdio.close();
    // ssh or srun ends when the agent does; if the host is unreachable, it is ended here.
    setTimeout(() => this.#child.exitCode === null && this.#child.kill('SIGKILL'), 3000).unref();
  }
}
