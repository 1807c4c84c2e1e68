/**
 * The errors tsmpi raises. Every error is an {@link MpiError} with a stable
 * string `code`; tests and programs should branch on `code`, not on message
 * text. Context travels as fields and is rendered into the message.
 *
 * Recovery policy: an argument error leaves the communicator usable. After a
 * {@link PeerFailedError}, {@link TransportError} or {@link AuthenticationError}
 * the job is being torn down by the launcher and the communicator must not be
 * used again (as with MPI's default `MPI_ERRORS_ARE_FATAL`).
 *
 * @packageDocumentation
 */

/** Stable error codes. */
export type MpiErrorCode =
  | 'ERR_TSMPI_INVALID_ARGUMENT'
  | 'ERR_TSMPI_SERIALIZE'
  | 'ERR_TSMPI_NOT_INITIALIZED'
  | 'ERR_TSMPI_FINALIZED'
  | 'ERR_TSMPI_PEER_FAILED'
  | 'ERR_TSMPI_AUTHENTICATION'
  | 'ERR_TSMPI_TIMEOUT'
  | 'ERR_TSMPI_ABORTED'
  | 'ERR_TSMPI_TRANSPORT'
  | 'ERR_TSMPI_BOOTSTRAP'
  | 'ERR_TSMPI_CONFIG'
  | 'ERR_TSMPI_PROTOCOL'
  | 'ERR_TSMPI_COLLECTIVE_MISMATCH'
  | 'ERR_TSMPI_TRUNCATE'
  | 'ERR_TSMPI_TASK';

/** Base class of every tsmpi error. */
export class MpiError extends Error {
  /** Stable machine-readable code. */
  readonly code: MpiErrorCode;

  constructor(code: MpiErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A public API call got an argument it cannot accept. Raised before anything is sent. */
export class InvalidArgumentError extends MpiError {
  /** The offending argument's name, e.g. `dest`. */
  readonly argument: string;

  constructor(argument: string, message: string, options?: { cause?: unknown }) {
    super('ERR_TSMPI_INVALID_ARGUMENT', `invalid ${argument}: ${message}`, options);
    this.argument = argument;
  }
}

/** A value cannot be structured-clone serialized (functions, symbols, ...). Raised before sending. */
export class SerializationError extends MpiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TSMPI_SERIALIZE', message, options);
  }
}

/** An operation was called before {@link init} resolved. */
export class NotInitializedError extends MpiError {
  constructor(op: string) {
    super('ERR_TSMPI_NOT_INITIALIZED', `${op} called before init()`);
  }
}

/** An operation was called after {@link finalize}. */
export class FinalizedError extends MpiError {
  constructor(op: string) {
    super('ERR_TSMPI_FINALIZED', `${op} called after finalize()`);
  }
}

/** A peer rank died or its link broke while an operation depended on it. */
export class PeerFailedError extends MpiError {
  /** The rank that failed. */
  readonly rank: number;
  /** Its host name, when known. */
  readonly host: string;
  /** The operation that was waiting on it, e.g. `recv`. */
  readonly op: string;
  /** What happened to it. */
  readonly reason: string;

  constructor(fields: { rank: number; host?: string; op: string; reason: string }, options?: { cause?: unknown }) {
    const host = fields.host ?? 'unknown host';
    super('ERR_TSMPI_PEER_FAILED', `${fields.op}: rank ${fields.rank} (${host}) failed: ${fields.reason}`, options);
    this.rank = fields.rank;
    this.host = host;
    this.op = fields.op;
    this.reason = fields.reason;
  }
}

/** A peer could not prove who it is, or claimed to be someone it is not. */
export class AuthenticationError extends MpiError {
  /** The peer as far as it is known (address, or `rank N`). */
  readonly peer: string;
  /** Why it was refused. */
  readonly reason: string;

  constructor(peer: string, reason: string, options?: { cause?: unknown }) {
    super('ERR_TSMPI_AUTHENTICATION', `refused ${peer}: ${reason}`, options);
    this.peer = peer;
    this.reason = reason;
  }
}

/**
 * A received message does not fit the receive's `out` buffer (MPI_ERR_TRUNCATE,
 * MPI 4.1 §3.2.5): it is longer, or not of `out`'s element type. The message
 * has been received (it is gone from the queue), as in MPI.
 */
export class TruncateError extends MpiError {
  /** The sender (a rank of the communicator). */
  readonly source: number;
  /** The message's tag. */
  readonly tag: number;
  /** The message's payload size, bytes. */
  readonly messageBytes: number;
  /** `out`'s size, bytes. */
  readonly bufferBytes: number;

  constructor(source: number, tag: number, messageBytes: number, bufferBytes: number, detail: string) {
    super('ERR_TSMPI_TRUNCATE', `recv from rank ${source} (tag ${tag}): ${detail}`);
    this.source = source;
    this.tag = tag;
    this.messageBytes = messageBytes;
    this.bufferBytes = bufferBytes;
  }
}

/** An operation's `timeoutMs` expired. */
export class TimeoutError extends MpiError {
  /** The operation that timed out: `recv`, `probe`, … */
  readonly op: string;
  /** How long it waited, ms. */
  readonly elapsedMs: number;

  constructor(op: string, elapsedMs: number, detail = '') {
    super('ERR_TSMPI_TIMEOUT', `${op} timed out after ${elapsedMs} ms${detail ? `: ${detail}` : ''}`);
    this.op = op;
    this.elapsedMs = elapsedMs;
  }
}

/** An operation was cancelled through its `AbortSignal`. */
export class AbortedError extends MpiError {
  /** The operation that was cancelled. */
  readonly op: string;

  constructor(op: string, options?: { cause?: unknown }) {
    super('ERR_TSMPI_ABORTED', `${op} was aborted`, options);
    this.op = op;
  }
}

/** The transport failed in a way not attributable to one peer. */
export class TransportError extends MpiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TSMPI_TRANSPORT', message, options);
  }
}

/** The rank could not join its job (bad bootstrap data, enrollment refused). */
export class BootstrapError extends MpiError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_TSMPI_BOOTSTRAP', message, options);
  }
}

/**
 * A `TSMPI_*` environment variable has a value tsmpi cannot use. Raised by
 * `init()` (and by `tsmpirun` before it starts any rank), never at import.
 */
export class ConfigurationError extends MpiError {
  /** The variable, e.g. `TSMPI_CHUNK_BYTES`. */
  readonly variable: string;
  /** Its value as found. */
  readonly value: string;
  /** What it accepts, e.g. `an integer >= 1024`. */
  readonly accepted: string;

  constructor(variable: string, value: string, accepted: string) {
    super('ERR_TSMPI_CONFIG', `${variable}=${value}: expected ${accepted}`);
    this.variable = variable;
    this.value = value;
    this.accepted = accepted;
  }
}

/**
 * A peer broke the protocol or its limits (a malformed frame, a message
 * above the eager limit, more unexpected messages than its budget): this rank
 * refuses it, closing the link. Waits on that peer then fail with
 * {@link PeerFailedError}; the event is reported to the launcher.
 */
export class ProtocolError extends MpiError {
  /** The peer's rank. */
  readonly peer: number;
  /** What it did. */
  readonly reason: string;

  constructor(peer: number, reason: string, options?: { cause?: unknown }) {
    super('ERR_TSMPI_PROTOCOL', `rank ${peer} broke the protocol: ${reason}`, options);
    this.peer = peer;
    this.reason = reason;
  }
}
