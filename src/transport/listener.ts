/**
 * Listening sockets of our own that hand each connection to grpc-js (a
 * connection injector), with limits before trust: a connection must
 * authenticate (its stream or call arrive with a certificate or token that
 * passes) within `deadlineMs`; at most `maxPending` connections may be
 * unauthenticated at once, the rest are closed at once. Owning the socket is
 * also what lets a rank see, and report, connections that TLS refused: grpc-js
 * has no hook for them. The sockets never keep the process alive.
 */
import net from 'node:net';
import type * as grpc from '@grpc/grpc-js';
import { TransportError } from '../errors.js';

export interface ListenerOptions {
  /** Time a connection has to authenticate, ms. */
  deadlineMs: number;
  /** Most connections not yet authenticated at once. */
  maxPending: number;
  /** A connection refused before it authenticated (`unauthenticated`: it closed, or was closed, unproven). */
  report(peer: string, reason: string): void;
}

/** The `address:port` form grpc-js's `getPeer()` uses. */
export function peerKey(address: string | undefined, port: number | undefined): string {
  const host = address?.includes(':') ? `[${address}]` : (address ?? '?');
  return `${host}:${port ?? '?'}`;
}

export class GuardedListener {
  /** `ip:port` of each address it listens on. */
  readonly addresses: string[] = [];
  readonly #servers: net.Server[] = [];
  readonly #pending = new Map<string, { socket: net.Socket; timer: NodeJS.Timeout }>();
  readonly #injector: grpc.ConnectionInjector;
  readonly #options: ListenerOptions;
  #closing = false;

  constructor(injector: grpc.ConnectionInjector, options: ListenerOptions) {
    this.#injector = injector;
    this.#options = options;
  }

  /** Listens on each of `ips`, ports chosen by the OS. */
  async listen(ips: readonly string[]): Promise<void> {
    for (const ip of ips) {
      const server = net.createServer((socket) => this.#accept(socket));
      this.#servers.push(server);
      const port = await new Promise<number>((resolve, reject) => {
        server.once('error', (error) => reject(new TransportError(`cannot listen on ${ip}: ${error.message}`, { cause: error })));
        server.listen(0, ip, () => resolve((server.address() as net.AddressInfo).port));
      });
      // The runtime's handles never keep the process alive; pending operations do (keepalive.ts).
      server.unref();
      this.addresses.push(`${ip}:${port}`);
    }
  }

  #accept(socket: net.Socket): void {
    socket.setNoDelay(true); // no Nagle delay on small messages: latency is a feature
    socket.unref();
    const peer = peerKey(socket.remoteAddress, socket.remotePort);
    if (this.#closing) {
      socket.destroy();
      return;
    }
    if (this.#pending.size >= this.#options.maxPending) {
      socket.destroy();
      this.#options.report(peer, `closed at once: ${this.#options.maxPending} connections were already waiting to authenticate`);
      return;
    }
    const timer = setTimeout(() => {
      if (!this.#pending.has(peer)) return;
      this.#pending.delete(peer);
      socket.destroy();
      this.#options.report(peer, `closed: it did not authenticate within ${this.#options.deadlineMs} ms`);
    }, this.#options.deadlineMs);
    timer.unref();
    this.#pending.set(peer, { socket, timer });
    socket.once('close', () => {
      const entry = this.#pending.get(peer);
      if (entry === undefined || entry.socket !== socket) return;
      clearTimeout(entry.timer);
      this.#pending.delete(peer);
      if (!this.#closing) this.#options.report(peer, 'connection closed before it authenticated (no certificate of this job, or a failed TLS 1.3 handshake)');
    });
    this.#injector.injectConnection(socket);
  }

  /** The connection from `peer` (`getPeer()` form) has authenticated: no deadline for it any more. */
  authenticated(peer: string): void {
    const entry = this.#pending.get(peer);
    if (entry === undefined) return;
    clearTimeout(entry.timer);
    this.#pending.delete(peer);
  }

  /** Stops listening and closes every connection that has not authenticated. */
  close(): void {
    this.#closing = true;
    for (const server of this.#servers) server.close();
    for (const { socket, timer } of this.#pending.values()) {
      clearTimeout(timer);
      socket.destroy();
    }
    this.#pending.clear();
  }
}
