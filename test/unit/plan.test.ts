// The job plan: hosts from -H, hostfiles (Open MPI and MPICH syntax) and Slurm, and the mapping of ranks.
import { describe, expect, it } from 'vitest';
import { formatMap, mapRanks, parseHostfile, parseHostList, parseTasksPerNode, PlanError, slurmHosts, type HostSpec } from '../../launcher/plan.js';

const hostsOf = (map: ReturnType<typeof mapRanks>): string[] => map.ranks.map((p) => map.hosts[p.node]!.name);

describe('hosts', () => {
  it('reads -H as Open MPI does: host:slots, one slot without a count, a repeated host adds its slots', () => {
    expect(parseHostList(['h1:2,h2:2'])).toEqual([
      { name: 'h1', slots: 2, maxSlots: Infinity },
      { name: 'h2', slots: 2, maxSlots: Infinity },
    ]);
    expect(parseHostList(['h1,h1', 'h2']).map((h) => [h.name, h.slots])).toEqual([['h1', 2], ['h2', 1]]);
    expect(() => parseHostList(['h1:0'])).toThrow(PlanError);
    expect(() => parseHostList([''])).toThrow(/no host/);
  });

  it('reads hostfiles in Open MPI syntax (slots=, max_slots=, comments, blank lines) and MPICH syntax (host:n)', () => {
    const text = '# the cluster\nh1 slots=4 max_slots=8\n\nh2   slots=2 # two cores\nh3:3\nh4\n';
    expect(parseHostfile(text)).toEqual([
      { name: 'h1', slots: 4, maxSlots: 8 },
      { name: 'h2', slots: 2, maxSlots: Infinity },
      { name: 'h3', slots: 3, maxSlots: Infinity },
      { name: 'h4', slots: 1, maxSlots: Infinity },
    ]);
    expect(() => parseHostfile('h1 slot=4\n', 'hosts.txt')).toThrow('hosts.txt:1: cannot read "slot=4"');
    expect(() => parseHostfile('h1 slots=4 max_slots=2\n')).toThrow(/max_slots=2 is less than slots=4/);
    expect(() => parseHostfile('# nothing\n')).toThrow(/no host/);
  });

  it("reads a Slurm allocation's compressed tasks per node", () => {
    expect(parseTasksPerNode('2(x3),1')).toEqual([2, 2, 2, 1]);
    expect(slurmHosts(['h1', 'h2'], '3,1').map((h) => [h.name, h.slots])).toEqual([['h1', 3], ['h2', 1]]);
    expect(() => slurmHosts(['h1'], '2(x2)')).toThrow(/gives 2 nodes, the node list 1/);
  });
});

describe('mapping ranks', () => {
  const three: HostSpec[] = parseHostList(['h1:2,h2:2,h3:2']);

  it('fills each host in turn by slot (the default), and deals ranks round-robin by node', () => {
    expect(hostsOf(mapRanks(three, 'host list', { np: 6, mapBy: 'slot', oversubscribe: false }))).toEqual(['h1', 'h1', 'h2', 'h2', 'h3', 'h3']);
    expect(hostsOf(mapRanks(three, 'host list', { np: 6, mapBy: 'node', oversubscribe: false }))).toEqual(['h1', 'h2', 'h3', 'h1', 'h2', 'h3']);
  });

  it('gives each rank its local rank, local size and node; leaves out hosts without ranks', () => {
    const map = mapRanks(three, 'host list', { np: 3, mapBy: 'slot', oversubscribe: false });
    expect(map.hosts.map((h) => h.name)).toEqual(['h1', 'h2']);
    expect(map.ranks).toEqual([
      { rank: 0, node: 0, localRank: 0, localSize: 2 },
      { rank: 1, node: 0, localRank: 1, localSize: 2 },
      { rank: 2, node: 1, localRank: 0, localSize: 1 },
    ]);
  });

  it('runs one rank per slot without -n, and -N per host', () => {
    expect(mapRanks(three, 'host list', { np: undefined, mapBy: 'slot', oversubscribe: false }).ranks).toHaveLength(6);
    expect(hostsOf(mapRanks(three, 'host list', { np: undefined, mapBy: 'slot', npernode: 1, oversubscribe: false }))).toEqual(['h1', 'h2', 'h3']);
    expect(() => mapRanks(three, 'host list', { np: 4, mapBy: 'slot', npernode: 1, oversubscribe: false })).toThrow(/need 4 hosts; there are 3/);
  });

  it('refuses more ranks than slots, naming the hosts, unless --oversubscribe, which still honours max_slots', () => {
    expect(() => mapRanks(three, 'host list', { np: 7, mapBy: 'slot', oversubscribe: false })).toThrow(
      '7 ranks do not fit in the 6 slots of h1 (2 slots), h2 (2 slots), h3 (2 slots); add hosts or slots, or pass --oversubscribe',
    );
    expect(hostsOf(mapRanks(three, 'host list', { np: 8, mapBy: 'slot', oversubscribe: true }))).toEqual(['h1', 'h1', 'h2', 'h2', 'h3', 'h3', 'h1', 'h2']);
    const capped = parseHostfile('h1 slots=1 max_slots=2\nh2 slots=1 max_slots=1\n');
    expect(() => mapRanks(capped, 'hostfile', { np: 4, mapBy: 'slot', oversubscribe: true })).toThrow(/max_slots reached/);
  });

  it('prints the map: each host, its slots and its ranks', () => {
    expect(formatMap(mapRanks(three, 'host list', { np: 5, mapBy: 'node', oversubscribe: false }))).toBe(
      ['job map: 5 ranks on 3 hosts (hosts from -H, --map-by node)', '  host  slots  ranks', '  h1    2      0, 3', '  h2    2      1, 4', '  h3    2      2'].join('\n'),
    );
  });
});
