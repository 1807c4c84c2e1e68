/**
 * tsmpi: MPI-style message passing for Node.js over mutual-TLS gRPC.
 *
 * ```ts
 * import { init, finalize } from 'tsmpi';
 * const world = await init();
 * console.log(`rank ${world.rank} of ${world.size}`);
 * await finalize();
 * ```
 * @packageDocumentation
 */
export { init, finalize, abort, world, initialized, processorName } from './runtime.js';
export {
  Communicator,
  TAG_UB,
  UNDEFINED,
  type BcastOptions,
  type ReduceOptions,
  type RootReduceOptions,
  type Blocks,
  type Gathered,
  type Status,
  type SendOptions,
  type RecvOptions,
  type SendrecvOptions,
  type RootOptions,
  type AllreduceOptions,
} from './comm.js';
export { ANY_SOURCE, ANY_TAG, PROC_NULL } from './p2p/engine.js';
export {
  SUM,
  PROD,
  MIN,
  MAX,
  LAND,
  LOR,
  LXOR,
  BAND,
  BOR,
  BXOR,
  MINLOC,
  MAXLOC,
  createOp,
  type Op,
  type OpName,
  type HalfType,
} from './reduce/ops.js';
export { CollectiveMismatchError } from './collectives/signature.js';
export { Algorithms, thresholds, type Thresholds, type AlgorithmName } from './collectives/tuning.js';
export type { TypedArray } from './datatype.js';
export {
  MpiError,
  InvalidArgumentError,
  SerializationError,
  NotInitializedError,
  FinalizedError,
  PeerFailedError,
  AuthenticationError,
  TimeoutError,
  AbortedError,
  TransportError,
  BootstrapError,
  ConfigurationError,
  ProtocolError,
  TruncateError,
  type MpiErrorCode,
} from './errors.js';
