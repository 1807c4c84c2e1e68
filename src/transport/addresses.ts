/**
 * Which addresses a rank (or the coordinator) listens on and advertises,
 * and in which order a peer's addresses are tried.
 *
 * A process binds exactly what it advertises, never a wildcard: loopback,
 * for peers on its own host, and, in a job that spans hosts, the IPv4
 * addresses of its host's interfaces, filtered by `--if-include` /
 * `--if-exclude` (CIDRs or interface names, as Open MPI's
 * `btl_tcp_if_include`). A dialling process tries loopback for a peer on its
 * own host, and otherwise the peer's addresses on a subnet it shares first.
 */
import net from 'node:net';
import os from 'node:os';
import { InvalidArgumentError } from '../errors.js';

/** System error codes of a failed connection, in plain words. */
export const SOCKET_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed',
};

/**
 * Opens a plain TCP connection to `host:port` and closes it at once:
 * resolves to `undefined` when it connects within `timeoutMs` (ms), else to
 * why not, in plain words. Never rejects.
 */
export function tcpReach(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      resolve(`no answer within ${timeoutMs} ms`);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(undefined);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(SOCKET_ERRORS[error.code ?? ''] ?? error.code ?? error.message));
  });
}

/** `--if-include` / `--if-exclude`: CIDRs (`10.0.0.0/8`) or interface names (`eth0`). */
export interface InterfaceFilter {
  include: readonly string[];
  exclude: readonly string[];
}

/** An IPv4 address of this host with its interface and subnet. */
interface LocalAddress {
  name: string;
  address: string;
  cidr: string;
}

function localAddresses(): LocalAddress[] {
  const out: LocalAddress[] = [];
  for (const [name, entries] of Object.entries(os.networkInterfaces())) {
    for (const e of entries ?? []) if (e.family === 'IPv4' && !e.internal && e.cidr !== null) out.push({ name, address: e.address, cidr: e.cidr });
  }
  return out;
}

/** A CIDR as a BlockList; throws a message naming `spec` when it is malformed. */
function subnet(spec: string): net.BlockList {
  const [ip, bits] = spec.split('/') as [string, string | undefined];
  const prefix = bits === undefined ? 32 : Number(bits);
  if (!net.isIPv4(ip) || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new InvalidArgumentError('network', `${spec} is not an IPv4 CIDR (a.b.c.d/n) or an interface name`);
  const list = new net.BlockList();
  list.addSubnet(ip, prefix, 'ipv4');
  return list;
}

/** Whether `entry` (a CIDR or an interface name) selects `local`. */
function selects(entry: string, local: LocalAddress): boolean {
  return /^[\d.]+(\/\d+)?$/.test(entry) ? subnet(entry).check(local.address, 'ipv4') : entry === local.name;
}

/** Checks the filter's CIDRs; returns what is malformed, or `undefined`. */
export function checkFilter(filter: InterfaceFilter): string | undefined {
  try {
    for (const entry of [...filter.include, ...filter.exclude]) if (/^[\d.]+(\/\d+)?$/.test(entry)) subnet(entry);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** This host's IPv4 interface addresses that `filter` lets through (no loopback), in interface order. */
export function interfaceAddresses(filter: InterfaceFilter): string[] {
  return localAddresses()
    .filter((a) => filter.include.length === 0 || filter.include.some((e) => selects(e, a)))
    .filter((a) => !filter.exclude.some((e) => selects(e, a)))
    .map((a) => a.address);
}

/** The host part of `ip:port`. */
export function hostOf(endpoint: string): string {
  return endpoint.slice(0, endpoint.lastIndexOf(':'));
}

/** Whether `endpoint` (`ip:port`) is on loopback. */
export function isLoopback(endpoint: string): boolean {
  return hostOf(endpoint).startsWith('127.');
}

/**
 * The order in which to try a peer's endpoints (`ip:port`): loopback only when
 * it is on this host; otherwise its non-loopback endpoints, those on a subnet
 * of this host first.
 */
export function dialOrder(endpoints: readonly string[], sameHost: boolean): string[] {
  if (sameHost) return endpoints.filter(isLoopback);
  const mine = localAddresses().map((a) => subnet(a.cidr));
  const remote = endpoints.filter((e) => !isLoopback(e));
  const near = remote.filter((e) => mine.some((s) => s.check(hostOf(e), 'ipv4')));
  return [...near, ...remote.filter((e) => !near.includes(e))];
}

/** A grpc-js target trying `endpoints` in order (pick_first over a fixed list). */
export function grpcTarget(endpoints: readonly string[]): string {
  return `ipv4:${endpoints.join(',')}`;
}
