// What the launcher says about the path bytes take between two ranks
// (`--info`, `--display-map`); the ranks decide the same way (src/runtime.ts).
import { nativeShm } from '../src/reduce/native.js';

/** How ranks of one host talk under `TSMPI_TRANSPORT=transport`, and why when it is not shared memory. */
export function sameHostPath(transport: 'auto' | 'grpc'): string {
  if (transport === 'grpc') return 'mutual-TLS gRPC (--transport grpc)';
  const { reason } = nativeShm();
  return reason === undefined ? 'shared memory' : `mutual-TLS gRPC, because ${reason}`;
}

/** The path between the ranks of a host that runs `ranks` of them. */
export function pathBetweenRanksOf(ranks: number, transport: 'auto' | 'grpc'): string {
  return ranks < 2 ? '-' : sameHostPath(transport);
}

export const BETWEEN_HOSTS = 'mutual-TLS 1.3 gRPC (@grpc/grpc-js)';
