/**
 * `tsmpirun doctor [-H …|--hostfile …] [program]`: a pre-flight check of
 * what a job needs, printed as a table, exiting non-zero when something a
 * job needs is wrong, with how to fix it.
 *
 * - this host: Node's version, the native addon and its instruction set,
 *   shared memory, a mutual-TLS 1.3 handshake with certificates of a job CA
 *   made for the check, free ports on the addresses ranks would listen on,
 *   and the program (found; a TypeScript one compiles);
 * - every other host, through the job's own launch path (ssh, the launch
 *   agent, or srun): reachable, the agent starts, tsmpi at the same path in
 *   the same version, Node, clock skew, the addresses its ranks would
 *   advertise, and the program's files.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import Table from 'cli-table3';
import { createCsr, generateKeyPair, JobCa } from '../src/security/pki.js';
import { PACKAGE_ROOT } from '../src/paths.js';
import { tcpReach, type InterfaceFilter } from '../src/transport/addresses.js';
import { compileProgram } from './compile.js';
import { hostReport, type HostReport } from './doctor-host.js';
import { agentCommand, shellQuote, type AgentLauncher } from './hosts.js';
import { isThisHost, type HostSpec } from './plan.js';
import { programKind } from './ranks.js';

/** One row of the table. */
export interface DoctorRow {
  where: string;
  check: string;
  status: 'ok' | 'warn' | 'FAIL';
  result: string;
  /** How to fix it, for a warning or failure. */
  fix?: string | undefined;
}

export interface DoctorOptions {
  version: string;
  hosts: HostSpec[];
  launcher: AgentLauncher;
  /** How other hosts are reached, for messages: ssh, the launch agent, srun. */
  via: string;
  prefix: string | undefined;
  network: InterfaceFilter;
  program: string | undefined;
}

/** The oldest Node tsmpi runs on (package.json `engines`). */
const MIN_NODE = [20, 19];
/** The certificates of a job tolerate this much clock skew between hosts (pki.ts). */
const CERT_SKEW_MS = 5 * 60 * 1000;

function nodeRow(where: string, version: string): DoctorRow {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  const ok = major > (MIN_NODE[0] as number) || (major === MIN_NODE[0] && minor >= (MIN_NODE[1] as number));
  return { where, check: 'Node.js', status: ok ? 'ok' : 'FAIL', result: version, fix: ok ? undefined : `install Node.js ${MIN_NODE.join('.')} or later` };
}

/** A mutual-TLS 1.3 handshake over loopback with certificates of a CA made for the check. */
async function tlsRow(): Promise<DoctorRow> {
  const row = { where: 'this host', check: 'mutual TLS 1.3' };
  try {
    const ca = await JobCa.create();
    const issue = async (role: 'coordinator' | 'rank'): Promise<{ cert: string; key: string }> => {
      const keys = await generateKeyPair();
      const identity = role === 'rank' ? ({ jobId: ca.jobId, role, rank: 0 } as const) : ({ jobId: ca.jobId, role } as const);
      return { cert: await ca.issue(await createCsr(keys, role), identity), key: keys.privateKeyPem };
    };
    const [server, client] = await Promise.all([issue('coordinator'), issue('rank')]);
    const protocol = await new Promise<string>((resolve, reject) => {
      const listener = tls.createServer({ ...server, ca: ca.certPem, minVersion: 'TLSv1.3', requestCert: true, rejectUnauthorized: true }, (socket) => {
        if (!socket.authorized) reject(new Error(`the server did not verify the client: ${String(socket.authorizationError)}`));
        socket.end();
      });
      listener.on('error', reject);
      listener.listen(0, '127.0.0.1', () => {
        const { port } = listener.address() as net.AddressInfo;
        const socket = tls.connect({ host: '127.0.0.1', port, ...client, ca: ca.certPem, minVersion: 'TLSv1.3', checkServerIdentity: () => undefined }, () => {
          resolve(socket.getProtocol() ?? 'unknown');
          socket.end();
          listener.close();
        });
        socket.on('error', reject);
        socket.setTimeout(10_000, () => reject(new Error('the handshake took more than 10 s')));
      });
    });
    const ok = protocol === 'TLSv1.3';
    return { ...row, status: ok ? 'ok' : 'FAIL', result: `${protocol}, both sides verified (OpenSSL ${process.versions.openssl})`, fix: ok ? undefined : 'use a Node.js built with OpenSSL 1.1.1 or later' };
  } catch (error) {
    return { ...row, status: 'FAIL', result: (error as Error).message, fix: 'use a Node.js built with OpenSSL 1.1.1 or later, with TLS 1.3 enabled' };
  }
}

/** Can a rank listen on `address`? */
function listens(address: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (error) => resolve(error.message));
    server.listen(0, address, () => server.close(() => resolve(undefined)));
  });
}

async function portsRow(addresses: readonly string[]): Promise<DoctorRow> {
  const failures = (await Promise.all(addresses.map(async (a) => ({ a, why: await listens(a) })))).filter((f) => f.why !== undefined);
  return failures.length === 0
    ? { where: 'this host', check: 'free ports', status: 'ok', result: `ranks can listen on ${addresses.join(', ')}` }
    : { where: 'this host', check: 'free ports', status: 'FAIL', result: failures.map((f) => `${f.a}: ${f.why}`).join('; '), fix: 'free a port range, or check the firewall and the interface filter' };
}

async function programRows(program: string): Promise<DoctorRow[]> {
  const row = { where: 'this host', check: 'program' };
  const kind = programKind(program);
  if (kind === 'executable') {
    const found = program.includes('/') ? existsSync(program) : spawnSync('sh', ['-c', `command -v ${shellQuote(program)}`]).status === 0;
    return [found ? { ...row, status: 'ok', result: `${program}: found` } : { ...row, status: 'FAIL', result: `${program}: not found`, fix: `give the path of an existing program (from ${process.cwd()})` }];
  }
  if (!existsSync(program)) return [{ ...row, status: 'FAIL', result: `${program}: not found`, fix: `give the path of an existing program (from ${process.cwd()})` }];
  if (kind !== 'typescript') return [{ ...row, status: 'ok', result: `${program}: found` }];
  try {
    const compiled = await compileProgram(program);
    await compiled.dispose();
    return [{ ...row, status: 'ok', result: `${program}: found; compiles (esbuild)` }];
  } catch (error) {
    return [{ ...row, status: 'FAIL', result: `${program} does not compile: ${(error as Error).message.split('\n').slice(0, 3).join(' ')}`, fix: 'fix the error, or run it with --no-bundle to see it in every rank' }];
  }
}

/** The rows of this host. */
async function localRows(o: DoctorOptions, multiHost: boolean): Promise<DoctorRow[]> {
  const here = hostReport(o.network, []);
  const rows: DoctorRow[] = [
    nodeRow('this host', process.version),
    { where: 'this host', check: 'tsmpi', status: 'ok', result: `${o.version} at ${here.root}` },
    here.reductions.startsWith('native')
      ? { where: 'this host', check: 'reductions', status: 'ok', result: here.reductions }
      : { where: 'this host', check: 'reductions', status: 'warn', result: here.reductions, fix: 'npm rebuild tsmpi (needs a C++ compiler and Node headers) for the SIMD kernels' },
    here.shmProblem === undefined
      ? { where: 'this host', check: 'shared memory', status: 'ok', result: 'ranks of one host use shared memory' }
      : { where: 'this host', check: 'shared memory', status: 'warn', result: `ranks of one host use gRPC: ${here.shmProblem}`, fix: 'install the native addon (npm rebuild tsmpi) and a writable /dev/shm' },
    await tlsRow(),
    await portsRow(['127.0.0.1', ...(multiHost ? here.addresses : [])]),
  ];
  if (multiHost && here.addresses.length === 0) {
    rows.push({ where: 'this host', check: 'addresses', status: 'FAIL', result: 'no IPv4 interface passes --if-include/--if-exclude: other hosts could not reach the launcher', fix: 'widen --if-include, or narrow --if-exclude' });
  } else if (multiHost) {
    rows.push({ where: 'this host', check: 'addresses', status: 'ok', result: `the launcher and its ranks advertise ${here.addresses.join(', ')}` });
  }
  if (o.program !== undefined) rows.push(...(await programRows(o.program)));
  return rows;
}

/** Runs `command args` for at most `limitMs`. */
function run(command: string, args: readonly string[], limitMs: number): Promise<{ code: number | null; stdout: string; stderr: string; error?: string | undefined }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), limitMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr, error: error.message });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, error: signal === 'SIGKILL' ? `no answer within ${limitMs / 1000} s` : undefined });
    });
  });
}

/** Whether ssh could open a TCP connection to `host` (its own configuration says where). */
async function reachable(o: DoctorOptions, host: string): Promise<DoctorRow> {
  const row = { where: host, check: 'reachable' };
  const launch = o.launcher(host);
  if (path.basename(launch.command) !== 'ssh') return { ...row, status: 'ok', result: `not checked: reached through ${o.via}` };
  const config = await run(launch.command, [...launch.args.slice(0, -1), '-G', host], 10_000);
  const name = /^hostname (\S+)$/m.exec(config.stdout)?.[1] ?? host;
  const port = Number(/^port (\d+)$/m.exec(config.stdout)?.[1] ?? 22);
  let address: string;
  try {
    address = (await lookup(name, { family: 4 })).address;
  } catch (error) {
    return { ...row, status: 'FAIL', result: `cannot resolve ${name}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, fix: 'check the host name (DNS or /etc/hosts, or your ssh configuration)' };
  }
  const why = await tcpReach(address, port, 5000);
  return why === undefined
    ? { ...row, status: 'ok', result: `ssh port ${address}:${port} answers` }
    : { ...row, status: 'FAIL', result: `${address}:${port}: ${why}`, fix: 'check that the host is up, and that sshd runs there and the network lets you reach it' };
}

/** Asks `host`'s agent what a job would find there. */
async function remoteRows(o: DoctorOptions, host: string, needs: string[]): Promise<DoctorRow[]> {
  const rows: DoctorRow[] = [await reachable(o, host)];
  if (rows[0]?.status === 'FAIL') return rows;
  const root = o.prefix ?? PACKAGE_ROOT.replace(/\/$/, '');
  const agent = path.join(root, 'dist', 'bin', 'agent.js');
  const flags = ['--doctor', ...(o.network.include.length ? [`--if-include=${o.network.include.join(',')}`] : []), ...(o.network.exclude.length ? [`--if-exclude=${o.network.exclude.join(',')}`] : []), ...needs.map((n) => `--need=${n}`)];
  const { command, args } = agentCommand(o.launcher, host, root, flags);
  const sent = Date.now();
  const r = await run(command, args, 30_000);
  const received = Date.now();
  const report = (() => {
    try {
      return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '') as HostReport;
    } catch {
      return undefined;
    }
  })();
  if (report === undefined) {
    const lines = r.stderr.trim().split('\n');
    // Node's own error is many lines: the one that says what is wrong, or else ssh's last words.
    const telling = lines.find((l) => /^Error: |No such file|not found|denied|refused|timed out/i.test(l)) ?? lines.slice(-2).join(' | ');
    const said = `${r.error ?? ''} ${telling}`.trim();
    const noNode = r.stderr.includes(process.execPath) && !r.stderr.includes(agent);
    const noTsmpi = r.stderr.includes(agent) || r.stderr.includes('Cannot find module');
    const fix = noNode
      ? `install Node.js at ${process.execPath} on ${host} (the same path as here)`
      : noTsmpi
        ? `install tsmpi ${o.version} at ${root} on ${host}, or give --prefix`
        : `make \`${command} ${host}\` work without a prompt (keys, known_hosts, BatchMode)`;
    rows.push({ where: host, check: `agent through ${o.via}`, status: 'FAIL', result: `exit status ${r.code ?? 'none'}: ${said || 'no output'}`, fix });
    return rows;
  }
  rows.push({ where: host, check: `agent through ${o.via}`, status: 'ok', result: `started in ${received - sent} ms on ${report.hostname}` });
  const sameTsmpi = report.version === o.version && report.root === root;
  rows.push({
    where: host,
    check: 'tsmpi',
    status: sameTsmpi ? 'ok' : 'FAIL',
    result: `${report.version} at ${report.root}`,
    fix: sameTsmpi ? undefined : `install tsmpi ${o.version} at ${root} on ${host} (the same version as here), or give --prefix`,
  });
  const node = nodeRow(host, report.node);
  if (node.status === 'ok' && report.node !== process.version) rows.push({ ...node, status: 'warn', result: `${report.node} (here ${process.version})`, fix: 'use the same Node.js on every host' });
  else rows.push(node);
  // The agent read its clock just before it answered: what is left of the round trip bounds the error.
  const skew = report.time - received;
  const skewText = `${skew >= 0 ? '+' : ''}${skew} ms (±${received - sent} ms)`;
  rows.push(
    Math.abs(skew) > CERT_SKEW_MS
      ? { where: host, check: 'clock skew', status: 'FAIL', result: skewText, fix: 'synchronize the clocks (NTP): certificates of a job tolerate 5 minutes' }
      : Math.abs(skew) > 1000 + (received - sent)
        ? { where: host, check: 'clock skew', status: 'warn', result: skewText, fix: 'synchronize the clocks (NTP)' }
        : { where: host, check: 'clock skew', status: 'ok', result: skewText },
  );
  rows.push(
    report.addresses.length > 0
      ? { where: host, check: 'addresses', status: 'ok', result: `its ranks would advertise ${report.addresses.join(', ')}` }
      : { where: host, check: 'addresses', status: 'FAIL', result: 'no IPv4 interface passes --if-include/--if-exclude', fix: 'widen --if-include, or narrow --if-exclude' },
  );
  rows.push({ where: host, check: 'reductions', status: report.reductions.startsWith('native') ? 'ok' : 'warn', result: report.reductions, fix: report.reductions.startsWith('native') ? undefined : `npm rebuild tsmpi on ${host}` });
  if (report.missing.length > 0) rows.push({ where: host, check: 'files', status: 'FAIL', result: `lacks ${report.missing.join(', ')}`, fix: "put the program's files at the same path on every host" });
  return rows;
}

/** The table, and the exit status: 1 when a check failed. */
export async function doctor(o: DoctorOptions): Promise<{ rows: DoctorRow[]; code: number }> {
  const remote = o.hosts.filter((h) => !isThisHost(h.name)).map((h) => h.name);
  // A JavaScript program must be at the same path on the other hosts; a TypeScript one travels, compiled.
  const kind = o.program === undefined ? undefined : programKind(o.program);
  const needs = o.program !== undefined && (kind === 'javascript' || (kind === 'executable' && o.program.includes('/'))) ? [path.resolve(o.program)] : [];
  const [local, ...others] = await Promise.all([localRows(o, remote.length > 0), ...remote.map((h) => remoteRows(o, h, needs))]);
  const rows = [...(local ?? []), ...others.flat()];
  return { rows, code: rows.some((r) => r.status === 'FAIL') ? 1 : 0 };
}

/** The rows as a table, and a last line that says what to do. */
export function formatDoctor(rows: readonly DoctorRow[]): string {
  const hostWidth = Math.min(Math.max(...rows.map((r) => r.where.length), 4) + 2, 32);
  const table = new Table({
    head: ['host', 'check', 'status', 'result', 'how to fix'],
    style: { head: [], border: [] },
    chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' },
    wordWrap: true,
    colWidths: [hostWidth, 22, 8, 48, 40],
  });
  for (const r of rows) table.push([r.where, r.check, r.status, r.result, r.fix ?? '']);
  const failed = rows.filter((r) => r.status === 'FAIL');
  const verdict = failed.length === 0 ? 'tsmpirun doctor: ready' : `tsmpirun doctor: ${failed.length} problem${failed.length === 1 ? '' : 's'}: ${failed.map((r) => `${r.check} on ${r.where}`).join(', ')}`;
  return `${table.toString()}\n${verdict}\n`;
}
