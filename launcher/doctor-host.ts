/**
 * What `tsmpirun doctor` asks of each host: run by the launcher for its own
 * host and by `agent.js --doctor` on every other (through ssh or srun), so
 * both answer alike. Nothing here is secret.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { PACKAGE_ROOT } from '../src/paths.js';
import { backendInfo, nativeShm } from '../src/reduce/native.js';
import { interfaceAddresses, type InterfaceFilter } from '../src/transport/addresses.js';

const require = createRequire(import.meta.url);

/** One host's answer. */
export interface HostReport {
  hostname: string;
  /** tsmpi's version and folder on the host. */
  version: string;
  root: string;
  node: string;
  execPath: string;
  /** The host's clock when it answered, ms since the epoch. */
  time: number;
  /** The addresses its ranks would advertise to other hosts (IPv4, the interface filter applied). */
  addresses: string[];
  reductions: string;
  /** Why its ranks cannot use shared memory, if they cannot. */
  shmProblem: string | undefined;
  /** Paths the job needs that the host lacks. */
  missing: string[];
}

/** This host's report; `needs`: paths the job needs here. */
export function hostReport(network: InterfaceFilter, needs: readonly string[]): HostReport {
  const b = backendInfo();
  let shmProblem = nativeShm().reason;
  if (shmProblem === undefined) {
    try {
      accessSync('/dev/shm', constants.W_OK);
    } catch {
      shmProblem = '/dev/shm is not writable';
    }
  }
  return {
    hostname: os.hostname(),
    version: (require('../../package.json') as { version: string }).version,
    root: PACKAGE_ROOT.replace(/\/$/, ''),
    node: process.version,
    execPath: process.execPath,
    time: Date.now(),
    addresses: interfaceAddresses(network),
    reductions: b.backend === 'native' ? `native SIMD (${b.isa})` : `TypeScript kernels (${b.reason})`,
    shmProblem,
    missing: needs.filter((p) => !existsSync(p)),
  };
}

/** `agent.js --doctor --if-include=… --if-exclude=… --need=PATH…`: the filter and needs from the agent's arguments. */
export function doctorArguments(argv: readonly string[]): { network: InterfaceFilter; needs: string[] } {
  const values = (name: string): string[] => argv.filter((a) => a.startsWith(`--${name}=`)).map((a) => a.slice(name.length + 3));
  const list = (name: string): string[] => values(name).flatMap((v) => v.split(',')).filter(Boolean);
  return { network: { include: list('if-include'), exclude: list('if-exclude') }, needs: values('need') };
}
