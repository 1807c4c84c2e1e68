/**
 * The launcher <-> host agent messages as the channel hands them over (the
 * `AgentInput` / `AgentOutput` messages of proto/tsmpi.proto, which is the
 * schema of record; protobufjs gives camelCase fields, oneofs by name).
 */

export interface AgentRankSpec {
  rank: number;
  localRank: number;
  localSize: number;
}

export interface AgentStart {
  host: string;
  node: number;
  size: number;
  ranks: AgentRankSpec[];
  program: { kind: string; file: string; args: string[]; bundle: Buffer | Uint8Array; bundleName: string };
  env: Record<string, string>;
  requiredPaths: string[];
  heartbeatMs: number;
  silenceMs: number;
}

export interface AgentBootstrap {
  jobId: string;
  caPem: string;
  enroll: string[];
  coordinator: string[];
  tokens: Array<{ rank: number; token: Buffer | Uint8Array }>;
  ifInclude: string[];
  ifExclude: string[];
}

/** What a sealed hello holds (Slurm): how to reach the launcher over TLS, and the token to show it. */
export interface AgentHello {
  addresses: string[];
  caPem: string;
  jobId: string;
  token: Buffer | Uint8Array;
}

export interface AgentInput {
  sealed?: { credential: string };
  start?: AgentStart;
  bootstrap?: AgentBootstrap;
  heartbeat?: object;
  signal?: { signal: string };
  stdin?: { data: Buffer | Uint8Array; end: boolean };
}

export interface AgentOutput {
  started?: { pids: Array<{ rank: number; pid: number }> };
  failed?: { reason: string };
  output?: { rank: number; stream: number; data: Buffer | Uint8Array };
  exited?: { rank: number; code: number; signal: string; error: string };
  fatal?: { rank: number; message: string; stack: string; consequence: boolean; op: string };
  heartbeat?: object;
  auth?: { token: Buffer | Uint8Array };
}

/** Streams of {@link AgentOutput} `output`. */
export const STDOUT = 1;
export const STDERR = 2;
