// Address choice: what a rank listens on and in which order a peer's addresses are tried.
import os from 'node:os';
import { describe, expect, it } from 'vitest';
import { checkFilter, dialOrder, grpcTarget, interfaceAddresses } from '../../src/transport/addresses.js';

const mine = Object.values(os.networkInterfaces())
  .flat()
  .filter((e) => e?.family === 'IPv4' && !e.internal);

describe('addresses', () => {
  it('lists this host\'s IPv4 interface addresses, never loopback, filtered by CIDR or interface name', () => {
    const all = interfaceAddresses({ include: [], exclude: [] });
    expect(all).toEqual(mine.map((e) => e!.address));
    expect(all.some((a) => a.startsWith('127.'))).toBe(false);
    expect(interfaceAddresses({ include: ['203.0.113.0/24'], exclude: [] })).toEqual([]);
    expect(interfaceAddresses({ include: [], exclude: ['0.0.0.0/0'] })).toEqual([]);
    const [name] = Object.entries(os.networkInterfaces()).find(([, entries]) => entries?.some((e) => e.family === 'IPv4' && !e.internal)) ?? [];
    if (name !== undefined) expect(interfaceAddresses({ include: [name], exclude: [] }).length).toBeGreaterThan(0);
  });

  it('refuses a malformed CIDR, naming it', () => {
    expect(checkFilter({ include: ['10.0.0.0/33'], exclude: [] })).toContain('10.0.0.0/33 is not an IPv4 CIDR');
    expect(checkFilter({ include: ['10.0.0.0/8', 'eth0'], exclude: ['192.168.0.0/16'] })).toBeUndefined();
  });

  it('tries loopback only for a peer of this host, and a shared subnet first for others', () => {
    expect(dialOrder(['127.0.0.1:5', '203.0.113.7:5'], true)).toEqual(['127.0.0.1:5']);
    expect(dialOrder(['127.0.0.1:5', '203.0.113.7:5'], false)).toEqual(['203.0.113.7:5']);
    const here = mine[0];
    if (here !== undefined) expect(dialOrder(['203.0.113.7:5', `${here.address}:6`], false)).toEqual([`${here.address}:6`, '203.0.113.7:5']);
    expect(grpcTarget(['10.0.0.1:1', '10.0.0.2:2'])).toBe('ipv4:10.0.0.1:1,10.0.0.2:2');
  });
});
