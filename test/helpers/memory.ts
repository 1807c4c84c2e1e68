// An in-memory job: N communicators in this process, for fast tests.
import { Communicator } from '../../src/comm.js';
import { Engine } from '../../src/p2p/engine.js';
import { MemoryJob } from '../../src/transport/memory.js';

/** A world of `size` ranks over the in-memory transport. */
export function memoryWorld(size: number): { job: MemoryJob; comms: Communicator[] } {
  const job = new MemoryJob(size);
  const comms = job.transports.map((_, rank) => new Communicator(new Engine(job.transport(rank)), 0, () => false));
  return { job, comms };
}

/** Runs `body` on every rank of a fresh in-memory world; resolves to each rank's result. */
export async function spmd<T>(size: number, body: (comm: Communicator) => Promise<T>): Promise<T[]> {
  const { comms } = memoryWorld(size);
  return Promise.all(comms.map((comm) => body(comm)));
}
