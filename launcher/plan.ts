/**
 * The job plan: which hosts, how many slots each, and which ranks run where,
 * with Open MPI's names and behaviour (mpirun(1) "Specifying Host Nodes",
 * "Mapping, Ranking, and Binding"):
 *
 * - `-H h1:2,h2:2` (a host without `:n` has one slot; a host named twice adds
 *   its slots), `--hostfile FILE` in Open MPI syntax (`h1 slots=4
 *   max_slots=8`, `#` comments, blank lines) or MPICH's (`h1:4`);
 * - inside a Slurm allocation, its nodes and `SLURM_TASKS_PER_NODE`;
 * - otherwise this host alone, with as many slots as ranks asked for.
 *
 * Without `-n`, a job has one rank per slot (or `-N` per host). `--map-by
 * slot` (the default) fills each host's slots before the next host's;
 * `--map-by node` deals ranks round-robin over the hosts. More ranks than
 * slots is an error naming the hosts, unless `--oversubscribe` (which still
 * honours `max_slots`).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** A host of the job and its capacity. */
export interface HostSpec {
  /** The name to reach it by (ssh, srun), as the user wrote it. */
  name: string;
  slots: number;
  /** Hard limit even with `--oversubscribe`; `Infinity` when none. */
  maxSlots: number;
}

/** Where one rank runs. */
export interface Placement {
  rank: number;
  /** Index of its host in {@link JobMap.hosts} (`TSMPI_COMM_WORLD_NODE_RANK`). */
  node: number;
  /** Its index among the ranks of its host (`TSMPI_COMM_WORLD_LOCAL_RANK`). */
  localRank: number;
  /** Ranks on its host (`TSMPI_COMM_WORLD_LOCAL_SIZE`). */
  localSize: number;
}

/** The plan of a job: hosts, and each rank's host. */
export interface JobMap {
  hosts: HostSpec[];
  /** Indexed by rank. */
  ranks: Placement[];
  mapBy: 'slot' | 'node';
  /** Where the hosts came from, for messages. */
  source: 'local' | 'host list' | 'hostfile' | 'slurm';
}

/** A plan that cannot be made; the message names what is wrong. */
export class PlanError extends Error {}

function addHost(hosts: HostSpec[], name: string, slots: number, maxSlots: number, where: string): void {
  if (!/^[A-Za-z0-9_.:[\]-]+$/.test(name)) throw new PlanError(`${where}: ${JSON.stringify(name)} is not a host name`);
  if (!Number.isSafeInteger(slots) || slots < 1) throw new PlanError(`${where}: ${name}: slots must be a positive integer`);
  const existing = hosts.find((h) => h.name === name);
  if (existing !== undefined) {
    existing.slots += slots;
    if (Number.isFinite(maxSlots)) existing.maxSlots = maxSlots;
  } else hosts.push({ name, slots, maxSlots });
}

/** `host[:slots]` entries of `-H`, comma-separated; repeatable. */
export function parseHostList(specs: readonly string[]): HostSpec[] {
  const hosts: HostSpec[] = [];
  for (const spec of specs.flatMap((s) => s.split(','))) {
    const entry = spec.trim();
    if (entry === '') continue;
    const m = /^(.+?)(?::(\d+))?$/.exec(entry) as RegExpExecArray;
    addHost(hosts, m[1] as string, m[2] === undefined ? 1 : Number(m[2]), Infinity, `-H ${entry}`);
  }
  if (hosts.length === 0) throw new PlanError('-H: no host given');
  return hosts;
}

/** A hostfile's text: Open MPI lines (`host slots=N max_slots=M`) or MPICH ones (`host:N`), `#` comments. */
export function parseHostfile(text: string, file = 'hostfile'): HostSpec[] {
  const hosts: HostSpec[] = [];
  text.split('\n').forEach((raw, i) => {
    const where = `${file}:${i + 1}`;
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const [first, ...fields] = line.split(/\s+/) as [string, ...string[]];
    const mpich = /^(.+):(\d+)$/.exec(first);
    let slots = mpich ? Number(mpich[2]) : 1;
    let maxSlots = Infinity;
    for (const field of fields) {
      const m = /^(slots|max_slots|max-slots|count|cpu)=(\d+)$/.exec(field);
      if (m === null) throw new PlanError(`${where}: cannot read ${JSON.stringify(field)} (expected slots=N or max_slots=N)`);
      if (m[1] === 'max_slots' || m[1] === 'max-slots') maxSlots = Number(m[2]);
      else slots = Number(m[2]);
    }
    if (maxSlots < slots) throw new PlanError(`${where}: max_slots=${maxSlots} is less than slots=${slots}`);
    addHost(hosts, mpich ? (mpich[1] as string) : first, slots, maxSlots, where);
  });
  if (hosts.length === 0) throw new PlanError(`${file}: no host in it`);
  return hosts;
}

/** Reads and parses a hostfile. */
export function readHostfile(file: string): HostSpec[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new PlanError(`--hostfile ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  return parseHostfile(text, file);
}

/** Slurm's compressed tasks-per-node list, `2(x3),1` → [2, 2, 2, 1]. */
export function parseTasksPerNode(text: string): number[] {
  const counts: number[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)(?:\(x(\d+)\))?\s*$/.exec(part);
    if (m === null) throw new PlanError(`SLURM_TASKS_PER_NODE=${text}: cannot read ${JSON.stringify(part)}`);
    for (let i = 0; i < Number(m[2] ?? 1); i++) counts.push(Number(m[1]));
  }
  return counts;
}

/** The hosts of a Slurm allocation: `nodes` expanded from SLURM_JOB_NODELIST (by `scontrol show hostnames`), slots from SLURM_TASKS_PER_NODE. */
export function slurmHosts(nodes: readonly string[], tasksPerNode: string): HostSpec[] {
  const counts = parseTasksPerNode(tasksPerNode);
  if (counts.length !== nodes.length) throw new PlanError(`SLURM_TASKS_PER_NODE=${tasksPerNode} gives ${counts.length} nodes, the node list ${nodes.length}`);
  return nodes.map((name, i) => ({ name, slots: counts[i] as number, maxSlots: Infinity }));
}

/** Whether `name` is this machine (such a host's ranks are started directly, not through an agent). */
export function isThisHost(name: string): boolean {
  const here = os.hostname();
  return ['localhost', '127.0.0.1', '::1', here, here.split('.')[0]].includes(name);
}

export interface MapOptions {
  /** `-n`; `undefined`: one rank per slot (or `npernode` per host). */
  np: number | undefined;
  mapBy: 'slot' | 'node';
  /** `-N`: ranks per host. */
  npernode?: number | undefined;
  oversubscribe: boolean;
}

/** Maps ranks onto `hosts`. Throws {@link PlanError} naming the hosts when they cannot hold the ranks. */
export function mapRanks(hosts: readonly HostSpec[], source: JobMap['source'], options: MapOptions): JobMap {
  const totalSlots = hosts.reduce((n, h) => n + h.slots, 0);
  const perNode = options.npernode;
  const np = options.np ?? (perNode !== undefined ? perNode * hosts.length : totalSlots);
  const describe = (): string => hosts.map((h) => `${h.name} (${h.slots} slot${h.slots === 1 ? '' : 's'}${Number.isFinite(h.maxSlots) ? `, max ${h.maxSlots}` : ''})`).join(', ');
  const counts = new Array<number>(hosts.length).fill(0);
  const order: number[] = []; // the host of each rank, by rank
  const take = (i: number): void => {
    order.push(i);
    counts[i] = (counts[i] as number) + 1;
  };
  const roundRobin = (room: (i: number) => boolean): void => {
    for (let progress = true; progress && order.length < np; ) {
      progress = false;
      for (let i = 0; i < hosts.length && order.length < np; i++) {
        if (room(i)) {
          take(i);
          progress = true;
        }
      }
    }
  };
  if (perNode !== undefined) {
    if (np > perNode * hosts.length) throw new PlanError(`${np} ranks at -N ${perNode} need ${Math.ceil(np / perNode)} hosts; there are ${hosts.length}: ${describe()}`);
    for (let r = 0; r < np; r++) take(Math.floor(r / perNode));
  } else {
    if (np > totalSlots && !options.oversubscribe) {
      throw new PlanError(`${np} ranks do not fit in the ${totalSlots} slots of ${describe()}; add hosts or slots, or pass --oversubscribe`);
    }
    const slots = (i: number): number => (hosts[i] as HostSpec).slots;
    if (options.mapBy === 'slot') hosts.forEach((_, i) => { while (order.length < np && (counts[i] as number) < slots(i)) take(i); });
    else roundRobin((i) => (counts[i] as number) < slots(i));
    // Oversubscribed: the rest round-robin, up to each host's max_slots.
    roundRobin((i) => (counts[i] as number) < (hosts[i] as HostSpec).maxSlots);
    if (order.length < np) throw new PlanError(`${np} ranks do not fit in ${describe()}: max_slots reached`);
  }
  // Hosts without ranks are left out (no agent is started there); nodes are numbered among the rest.
  const used = hosts.map((_, i) => i).filter((i) => (counts[i] as number) > 0);
  const nodeOf = new Map(used.map((i, node) => [i, node]));
  const seen = new Array<number>(hosts.length).fill(0);
  const ranks = order.map((i, rank) => {
    const localRank = seen[i] as number;
    seen[i] = localRank + 1;
    return { rank, node: nodeOf.get(i) as number, localRank, localSize: counts[i] as number };
  });
  return { hosts: used.map((i) => ({ ...(hosts[i] as HostSpec) })), ranks, mapBy: options.mapBy, source };
}

const SOURCES: Record<JobMap['source'], string> = { local: 'this host alone', 'host list': '-H', hostfile: 'the hostfile', slurm: 'the Slurm allocation' };

/** The `--display-map` table: each host, its slots and its ranks. */
export function formatMap(map: JobMap, transportOf?: (node: number) => string): string {
  const rows = map.hosts.map((host, node) => {
    const ranks = map.ranks.filter((p) => p.node === node).map((p) => p.rank);
    return [host.name, String(host.slots), ranks.join(', ') || '-', transportOf?.(node) ?? ''];
  });
  const head = ['host', 'slots', 'ranks', transportOf ? 'between its ranks' : ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]): string => `  ${cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ')}`.trimEnd();
  return [
    `job map: ${map.ranks.length} rank${map.ranks.length === 1 ? '' : 's'} on ${map.hosts.length} host${map.hosts.length === 1 ? '' : 's'} (hosts from ${SOURCES[map.source]}, --map-by ${map.mapBy})`,
    line(head),
    ...rows.map(line),
  ].join('\n');
}
