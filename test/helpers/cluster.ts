// Simulated hosts for multi-host tests, after ../shared/cluster-sim.md: network
// namespaces on a bridge (private addresses only), one key-only sshd per
// namespace with throwaway keys, and optionally a Slurm cluster (munged,
// slurmctld, one slurmd per namespace). Everything is started as a child of
// this process and stopped by PID; the namespaces and bridges are deleted.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface SimHost {
  /** Host name (its UTS name, the name ssh and Slurm use). */
  name: string;
  /** Namespace name. */
  ns: string;
  /** Address on the first network, 10.77.0.<i>. */
  ip: string;
  /** Address on the second network, 10.78.0.<i>, when there is one. */
  ip2?: string;
}

export interface Cluster {
  hosts: SimHost[];
  /** Environment for tsmpirun: TSMPI_RSH runs ssh with this cluster's config (and Slurm's, when started). */
  env: NodeJS.ProcessEnv;
  /** Runs a command in `host`'s namespace; returns its output. */
  exec(host: SimHost, command: string[]): string;
  /** PIDs of every process in `host`'s namespace that the harness did not start (agents, ranks, sessions). */
  jobPids(host: SimHost): number[];
  stop(): Promise<void>;
}

const SUBNET = '10.77.0';
const SUBNET2 = '10.78.0';
const BRIDGES = ['tsmpibr0', 'tsmpibr1'];
const PREFIX = 'tsmpi-h';

function run(command: string, args: string[], options: { check?: boolean; env?: NodeJS.ProcessEnv } = {}): { status: number | null; out: string } {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: 30_000, env: options.env ?? process.env });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  if ((options.check ?? true) && r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.status}): ${out}`);
  return { status: r.status, out };
}

/** Why this machine cannot simulate hosts (`undefined` when it can): tests print it when they skip. */
export function clusterUnavailable(options: { slurm?: boolean } = {}): string | undefined {
  if (process.platform !== 'linux') return 'simulated hosts need Linux network namespaces';
  if (process.getuid?.() !== 0) return 'simulated hosts need root (network namespaces)';
  for (const tool of ['/usr/sbin/ip', '/usr/sbin/sshd', '/usr/bin/ssh', '/usr/bin/nsenter', '/usr/bin/unshare']) {
    if (!existsSync(tool)) return `${tool} is missing (.ci/run installs openssh-server with apt)`;
  }
  if (options.slurm) {
    for (const tool of ['/usr/sbin/slurmctld', '/usr/sbin/slurmd', '/usr/sbin/munged', '/usr/bin/salloc']) if (!existsSync(tool)) return `${tool} is missing (.ci/run installs slurm-wlm and munge with apt)`;
  }
  if (run('ip', ['netns', 'list'], { check: false }).status !== 0) return 'cannot use network namespaces here';
  return undefined;
}

/** Removes what an earlier, interrupted run may have left (only names of this harness). */
function sweep(): void {
  for (const line of run('ip', ['netns', 'list'], { check: false }).out.split('\n')) {
    const ns = line.split(' ')[0] ?? '';
    if (!ns.startsWith(PREFIX)) continue;
    for (const pid of run('ip', ['netns', 'pids', ns], { check: false }).out.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(pid), 'SIGKILL');
      } catch {
        // gone
      }
    }
    run('ip', ['netns', 'del', ns], { check: false });
  }
  for (const bridge of BRIDGES) run('ip', ['link', 'del', bridge], { check: false });
}

function waitFor(what: string, condition: () => boolean, limitMs = 15_000): Promise<void> {
  const end = Date.now() + limitMs;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (condition()) return resolve();
      if (Date.now() > end) return reject(new Error(`${what} did not happen within ${limitMs} ms`));
      setTimeout(tick, 100);
    };
    tick();
  });
}

/**
 * Starts `count` simulated hosts h1..hN (10.77.0.1..N, the bridge 10.77.0.254
 * in this namespace), each with an sshd; `secondNetwork` adds 10.78.0.0/24 on
 * a second bridge; `slurm` a Slurm cluster of those hosts.
 */
export async function startCluster(options: { count?: number; secondNetwork?: boolean; slurm?: boolean } = {}): Promise<Cluster> {
  const count = options.count ?? 3;
  sweep();
  const work = mkdtempSync(path.join(os.tmpdir(), 'tsmpi-cluster-'));
  chmodSync(work, 0o755); // sshd reads its files, munge its folder
  const daemons: ChildProcess[] = [];
  const hosts: SimHost[] = Array.from({ length: count }, (_, i) => ({
    name: `h${i + 1}`,
    ns: `${PREFIX}${i + 1}`,
    ip: `${SUBNET}.${i + 1}`,
    ...(options.secondNetwork ? { ip2: `${SUBNET2}.${i + 1}` } : {}),
  }));
  const nets = options.secondNetwork ? [[BRIDGES[0], SUBNET, 'eth0'], [BRIDGES[1], SUBNET2, 'eth1']] : [[BRIDGES[0], SUBNET, 'eth0']];
  const stop = async (): Promise<void> => {
    for (const d of daemons) d.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    for (const d of daemons) if (d.exitCode === null) d.kill('SIGKILL');
    sweep();
    if (process.env.TSMPI_CLUSTER_KEEP === undefined) rmSync(work, { recursive: true, force: true });
  };
  try {
    for (const [bridge, subnet] of nets as Array<[string, string, string]>) {
      run('ip', ['link', 'add', bridge, 'type', 'bridge']);
      // The bridge's own address keeps traffic to the subnet on it (never the default route).
      run('ip', ['addr', 'add', `${subnet}.254/24`, 'dev', bridge]);
      run('ip', ['link', 'set', bridge, 'up']);
    }
    for (const [i, host] of hosts.entries()) {
      run('ip', ['netns', 'add', host.ns]);
      run('ip', ['-n', host.ns, 'link', 'set', 'lo', 'up']);
      for (const [n, [bridge, subnet, dev]] of (nets as Array<[string, string, string]>).entries()) {
        const veth = `tsv${n}-h${i + 1}`;
        run('ip', ['link', 'add', veth, 'type', 'veth', 'peer', 'name', dev, 'netns', host.ns]);
        run('ip', ['link', 'set', veth, 'master', bridge]);
        run('ip', ['link', 'set', veth, 'up']);
        run('ip', ['-n', host.ns, 'addr', 'add', `${subnet}.${i + 1}/24`, 'dev', dev]);
        run('ip', ['-n', host.ns, 'link', 'set', dev, 'up']);
      }
    }

    // sshd per namespace, key-only, throwaway keys; an ssh config that names the hosts.
    const ssh = path.join(work, 'ssh');
    mkdirSync(ssh, { mode: 0o700 });
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tsmpi-test', '-f', path.join(ssh, 'id_ed25519')]);
    run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'tsmpi-test-host', '-f', path.join(ssh, 'host_ed25519')]);
    writeFileSync(path.join(ssh, 'authorized_keys'), readFileSync(path.join(ssh, 'id_ed25519.pub')), { mode: 0o600 });
    const hostKey = readFileSync(path.join(ssh, 'host_ed25519.pub'), 'utf8').trim();
    writeFileSync(path.join(ssh, 'known_hosts'), hosts.map((h) => `${h.ip} ${hostKey}\n`).join(''));
    const config = hosts
      .map((h) => `Host ${h.name}\n  HostName ${h.ip}\n`)
      .concat(
        `Host *\n  IdentityFile ${ssh}/id_ed25519\n  UserKnownHostsFile ${ssh}/known_hosts\n  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n  ConnectTimeout 5\n`,
      )
      .join('');
    writeFileSync(path.join(ssh, 'config'), config);
    for (const host of hosts) {
      const conf = path.join(ssh, `sshd_${host.name}.conf`);
      writeFileSync(
        conf,
        [
          `ListenAddress ${host.ip}`,
          'Port 22',
          `HostKey ${ssh}/host_ed25519`,
          `PidFile ${ssh}/sshd_${host.name}.pid`,
          `AuthorizedKeysFile ${ssh}/authorized_keys`,
          'PermitRootLogin prohibit-password',
          'PubkeyAuthentication yes',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'UsePAM no',
          'StrictModes no',
          'LogLevel ERROR',
          '',
        ].join('\n'),
      );
      run('/usr/sbin/sshd', ['-t', '-f', conf]);
      daemons.push(
        spawn('ip', ['netns', 'exec', host.ns, 'unshare', '--uts', 'sh', '-c', `hostname ${host.name} && exec /usr/sbin/sshd -D -f ${conf} -E ${ssh}/sshd_${host.name}.log`], { stdio: 'ignore' }),
      );
    }
    const env: NodeJS.ProcessEnv = { ...process.env, TSMPI_RSH: `ssh -F ${ssh}/config` };
    await waitFor('every sshd to answer', () => hosts.every((h) => run('ssh', ['-F', `${ssh}/config`, h.name, 'true'], { check: false }).status === 0), 20_000);

    if (options.slurm) {
      const s = path.join(work, 'slurm');
      for (const dir of ['state', 'log', 'spool', 'munge']) mkdirSync(path.join(s, dir), { recursive: true });
      // munged of our own: its key, socket and files in this folder.
      const munge = path.join(s, 'munge');
      const uid = Number(run('id', ['-u', 'munge']).out.trim());
      const gid = Number(run('id', ['-g', 'munge']).out.trim());
      chmodSync(path.join(s), 0o755);
      writeFileSync(path.join(munge, 'munge.key'), Buffer.from(Array.from({ length: 1024 }, () => Math.floor(Math.random() * 256))), { mode: 0o400 });
      chownSync(munge, uid, gid);
      chownSync(path.join(munge, 'munge.key'), uid, gid);
      chmodSync(munge, 0o755);
      const socket = path.join(munge, 'munge.socket');
      daemons.push(
        spawn('runuser', ['-u', 'munge', '--', '/usr/sbin/munged', '--foreground', `--socket=${socket}`, `--key-file=${munge}/munge.key`, `--pid-file=${munge}/munged.pid`, `--log-file=${munge}/munged.log`, `--seed-file=${munge}/munged.seed`], { stdio: 'ignore' }),
      );
      await waitFor('munged to start', () => existsSync(socket));
      const conf = path.join(s, 'slurm.conf');
      const short = os.hostname().split('.')[0];
      writeFileSync(
        conf,
        [
          'ClusterName=tsmpitest',
          `SlurmctldHost=${short}(${SUBNET}.254)`,
          'SlurmctldPort=16817',
          'SlurmdPort=16818',
          'SlurmUser=root',
          'AuthType=auth/munge',
          'CredType=cred/munge',
          `AuthInfo=socket=${socket}`,
          'MpiDefault=none',
          'ProctrackType=proctrack/linuxproc',
          'TaskPlugin=task/none',
          'JobAcctGatherType=jobacct_gather/none',
          'AccountingStorageType=accounting_storage/none',
          'SchedulerType=sched/backfill',
          'SelectType=select/cons_tres',
          'SelectTypeParameters=CR_CPU',
          'ReturnToService=2',
          'SlurmdParameters=config_overrides',
          'MailProg=/bin/true',
          `StateSaveLocation=${s}/state`,
          `SlurmdSpoolDir=${s}/spool/%n`,
          `SlurmctldPidFile=${s}/slurmctld.pid`,
          `SlurmdPidFile=${s}/slurmd-%n.pid`,
          `SlurmctldLogFile=${s}/log/slurmctld.log`,
          `SlurmdLogFile=${s}/log/slurmd-%n.log`,
          `NodeName=h[1-${count}] NodeAddr=${SUBNET}.[1-${count}] NodeHostname=h[1-${count}] CPUs=2 Sockets=1 CoresPerSocket=2 ThreadsPerCore=1 State=UNKNOWN`,
          'PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4',
          '',
        ].join('\n'),
      );
      env.SLURM_CONF = conf;
      daemons.push(spawn('/usr/sbin/slurmctld', ['-D', '-f', conf], { stdio: 'ignore', env }));
      for (const host of hosts) {
        mkdirSync(path.join(s, 'spool', host.name), { recursive: true });
        // nsenter, not `ip netns exec`: slurmd needs the real /sys (cluster-sim.md).
        daemons.push(
          spawn('nsenter', [`--net=/run/netns/${host.ns}`, 'unshare', '--uts', 'sh', '-c', `hostname ${host.name} && exec /usr/sbin/slurmd -D -f ${conf} -N ${host.name}`], { stdio: 'ignore', env }),
        );
      }
      await waitFor('every slurmd to be idle', () => run('sinfo', ['-h', '-o', '%T'], { check: false, env }).out.trim().split('\n').every((l) => l === 'idle'), 30_000);
    }
    const harness = new Set(daemons.map((d) => d.pid));
    return {
      hosts,
      env,
      exec: (host, command) => run('ip', ['netns', 'exec', host.ns, ...command], { check: false }).out,
      jobPids: (host) =>
        run('ip', ['netns', 'pids', host.ns], { check: false })
          .out.split('\n')
          .filter(Boolean)
          .map(Number)
          .filter((pid) => !harness.has(pid) && !isDaemon(pid)),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Processes of the harness's daemons (sshd listeners, slurmd and their helpers) are not the job's. */
function isDaemon(pid: number): boolean {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    // sshd's listeners and its per-session processes, slurmd and its step daemons: the harness's, not the job's.
    return /^sshd|sshd -D -f|slurmd -D|slurmstepd/.test(cmdline);
  } catch {
    return true; // gone
  }
}
