/**
 * `tsmpirun --info [--json]`: the runtime configuration, as `ompi_info` gives
 * Open MPI's: versions, transports, the reduction kernels, the collective
 * algorithms and their thresholds, and every `TSMPI_*` setting with its
 * value and where that came from.
 */
import { createRequire } from 'node:module';
import { Algorithms } from '../src/collectives/tuning.js';
import { describeSettings, type SettingValue } from '../src/environment.js';
import { backendInfo, nativeAddon, nativeShm } from '../src/reduce/native.js';
import { BETWEEN_HOSTS, sameHostPath } from './paths.js';

const require = createRequire(import.meta.url);

/** The version of an installed package, or `unknown`. */
function versionOf(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** What `--info --json` prints. */
export interface RuntimeInfo {
  tsmpi: string;
  node: string;
  platform: string;
  versions: Record<string, string>;
  tls: { versions: string[]; peerVerification: 'always' };
  transports: { betweenHosts: string; sameHost: string; shmRingBytes: number | undefined };
  reductions: { backend: 'native' | 'typescript'; isa?: string | undefined; isas?: string[] | undefined; reason?: string | undefined };
  collectives: Record<string, string[]>;
  settings: SettingValue[];
}

/** The configuration the ranks of a job started now with `env` would have; `setBy`: settings tsmpirun's options put in `env`. */
export function runtimeInfo(version: string, env: NodeJS.ProcessEnv, setBy: Readonly<Record<string, string>>): RuntimeInfo {
  const transport = env.TSMPI_TRANSPORT === 'grpc' ? 'grpc' : 'auto';
  const b = backendInfo();
  const shm = transport === 'auto' && nativeShm().reason === undefined;
  const settings = describeSettings(env, setBy);
  return {
    tsmpi: version,
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    versions: { '@grpc/grpc-js': versionOf('@grpc/grpc-js'), protobufjs: versionOf('protobufjs'), pkijs: versionOf('pkijs'), openssl: process.versions.openssl ?? 'unknown', v8: process.versions.v8 },
    tls: { versions: ['TLSv1.3'], peerVerification: 'always' },
    transports: { betweenHosts: BETWEEN_HOSTS, sameHost: sameHostPath(transport), shmRingBytes: shm ? Number(settings.find((x) => x.name === 'TSMPI_SHM_RING_BYTES')?.value) : undefined },
    reductions: b.backend === 'native' ? { backend: 'native', isa: b.isa, isas: nativeAddon()?.isas() } : { backend: 'typescript', reason: b.reason },
    collectives: Object.fromEntries(Object.entries(Algorithms).map(([collective, table]) => [collective, Object.keys(table)])),
    settings,
  };
}

/** `--info` as text. */
export function formatInfo(info: RuntimeInfo): string {
  const r = info.reductions;
  const width = Math.max(...info.settings.map((s) => s.name.length));
  const valueWidth = Math.max(...info.settings.map((s) => s.value.length), 7);
  const lines = [
    `tsmpi ${info.tsmpi}`,
    `node: ${info.node} (${info.platform})`,
    `libraries: ${Object.entries(info.versions).map(([name, v]) => `${name} ${v}`).join(', ')}`,
    `security: ${info.tls.versions.join(', ').replace('TLSv', 'TLS ')} only, mutual, peers always verified against the job's CA`,
    `between hosts: ${info.transports.betweenHosts}`,
    `between ranks of one host: ${info.transports.sameHost}${info.transports.shmRingBytes !== undefined ? ` (rings of ${info.transports.shmRingBytes} bytes per pair)` : ''}`,
    r.backend === 'native' ? `reductions: native SIMD kernels (${r.isa}), of ${(r.isas ?? []).join(', ')} on this CPU (TSMPI_NATIVE_ISA)` : `reductions: TypeScript kernels, because ${r.reason}`,
    'collective algorithms (chosen by the thresholds below; TSMPI_<COLLECTIVE>_ALGORITHM forces one):',
    ...Object.entries(info.collectives).map(([c, algs]) => `  ${c}: ${algs.join(', ')}`),
    'settings (value in force, and where it comes from):',
    ...info.settings.map((s) => `  ${s.name.padEnd(width)}  ${(s.value || '(unset)').padEnd(valueWidth)}  ${s.source}`),
  ];
  return `${lines.join('\n')}\n`;
}
