// A rank's gRPC link with the rendezvous protocol above it, as the runtime builds it, for in-process tests.
import { Messenger } from '../../src/p2p/rendezvous.js';
import { GrpcTransport, type GrpcTransportOptions } from '../../src/transport/grpc.js';

export interface LinkedRank {
  /** The gRPC link: addresses, the address table, connections. */
  link: GrpcTransport;
  /** The Transport above it (what the engine uses): send, setHandler, close. */
  messenger: Messenger;
}

export async function startLinked(options: GrpcTransportOptions): Promise<LinkedRank> {
  const link = await GrpcTransport.start(options);
  return { link, messenger: new Messenger(options.rank, options.size, [link], () => link, link) };
}
