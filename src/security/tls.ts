/**
 * gRPC credentials for tsmpi: TLS 1.3 only, verification always on.
 *
 * There is deliberately no way to build insecure credentials here.
 */
import tls from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { parseIdentity, type Identity } from './pki.js';

/** TLS material of one endpoint. The key PEM stays in this process. */
export interface TlsMaterial {
  /** The job CA certificate (PEM): the only trust anchor. */
  caPem: string;
  /** This endpoint's certificate (PEM). */
  certPem: string;
  /** This endpoint's private key (PEM). */
  keyPem: string;
}

/**
 * Server credentials pinned to TLS 1.3 with the job CA as the only trust
 * anchor. Built on grpc-js's public `ServerCredentials` constructor because
 * `ServerCredentials.createSsl` cannot set `minVersion`.
 */
class Tls13ServerCredentials extends grpc.ServerCredentials {
  constructor(material: TlsMaterial, clients: 'certificate-required' | 'token-enrollment') {
    super(
      {
        minVersion: 'TLSv1.3',
        requestCert: clients === 'certificate-required',
        rejectUnauthorized: true,
      },
      { ca: material.caPem, cert: material.certPem, key: material.keyPem },
    );
  }

  override _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

/** Mutual TLS 1.3: clients must present a certificate from the job CA. */
export function mutualTlsServerCredentials(material: TlsMaterial): grpc.ServerCredentials {
  return new Tls13ServerCredentials(material, 'certificate-required');
}

/**
 * Server-authenticated TLS 1.3 for the coordinator's enrollment port only:
 * an enrolling rank has no certificate yet and proves itself with its
 * single-use bootstrap token instead.
 */
export function enrollmentServerCredentials(material: TlsMaterial): grpc.ServerCredentials {
  return new Tls13ServerCredentials(material, 'token-enrollment');
}

/**
 * Client credentials, TLS 1.3, trusting only the job CA. `expect` checks the
 * server's identity from its certificate and returns a reason to refuse, or
 * `undefined` to accept; host names play no part.
 * Without `certPem`/`keyPem` the client presents no certificate (enrollment only).
 */
export function channelCredentials(
  material: { caPem: string; certPem?: string; keyPem?: string },
  expect: (identity: Identity | undefined) => string | undefined,
): grpc.ChannelCredentials {
  const context = tls.createSecureContext({
    minVersion: 'TLSv1.3',
    ca: material.caPem,
    ...(material.certPem !== undefined && material.keyPem !== undefined
      ? { cert: material.certPem, key: material.keyPem }
      : {}),
  });
  const credentials = grpc.credentials.createFromSecureContext(context, {
    checkServerIdentity: (_host, cert) => {
      const reason = expect(parseIdentity(cert.subjectaltname));
      return reason === undefined ? undefined : new Error(reason);
    },
  });
  return new UnreferencedCredentials(credentials);
}

/**
 * grpc-js's TLS credentials, except that the connections they make never
 * keep the process alive: a rank's process stays up while one of its
 * operations is pending (src/keepalive.ts), not because a connection is
 * open, so that a program whose work is done exits (and is finalized).
 * grpc-js references a connection whenever a call is active on it, and our
 * streams are active for the whole job, so the socket's `ref` is disabled.
 * Built on grpc-js's public `ChannelCredentials` extension point
 * (`_createSecureConnector`); TLS and its checks are grpc-js's own.
 */
class UnreferencedCredentials extends grpc.ChannelCredentials {
  readonly #inner: grpc.ChannelCredentials;

  constructor(inner: grpc.ChannelCredentials) {
    super();
    this.#inner = inner;
  }

  override _isSecure(): boolean {
    return this.#inner._isSecure();
  }

  override _equals(other: grpc.ChannelCredentials): boolean {
    return other === this;
  }

  override _createSecureConnector(...args: Parameters<grpc.ChannelCredentials['_createSecureConnector']>): ReturnType<grpc.ChannelCredentials['_createSecureConnector']> {
    const connector = this.#inner._createSecureConnector(...args);
    return {
      connect: async (socket) => {
        const result = await connector.connect(socket);
        result.socket.unref();
        result.socket.ref = () => result.socket;
        return result;
      },
      waitForReady: () => connector.waitForReady(),
      getCallCredentials: () => connector.getCallCredentials(),
      destroy: () => connector.destroy(),
    };
  }
}
