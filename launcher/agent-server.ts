/**
 * The launcher's agent port, for jobs in a Slurm allocation (see
 * `SealedHello` in proto/tsmpi.proto): TLS 1.3 with the coordinator's
 * certificate; an agent proves itself with the single-use token of its
 * sealed hello, and then its whole channel runs inside that connection.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import tls from 'node:tls';
import type { TlsMaterial } from '../src/security/tls.js';
import { agentMessages } from '../src/transport/wire.js';
import type { AgentInput, AgentOutput } from './agent-protocol.js';
import { MessageChannel } from './channel.js';

/** An agent that presented its token: its channel, whose handlers are attached once. */
export interface AgentConnection {
  channel: MessageChannel<AgentOutput, AgentInput>;
  attach(onMessage: (message: AgentOutput) => void, onEnd: (why?: string) => void): void;
}

/** How long a connection may take to present its token. */
const AUTH_DEADLINE_MS = 10_000;

export class AgentServer {
  /** `ip:port` of each address the port listens on. */
  readonly addresses: string[] = [];
  readonly #servers: tls.Server[] = [];
  readonly #material: TlsMaterial;
  readonly #expected: Array<{ token: Buffer; resolve(connection: AgentConnection): void }> = [];
  readonly #refused: (peer: string, reason: string) => void;

  constructor(material: TlsMaterial, refused: (peer: string, reason: string) => void) {
    this.#material = material;
    this.#refused = refused;
  }

  /** Listens on each of `ips` (ports chosen by the OS). */
  async listen(ips: readonly string[]): Promise<void> {
    for (const ip of ips) {
      const server = tls.createServer({ minVersion: 'TLSv1.3', cert: this.#material.certPem, key: this.#material.keyPem, handshakeTimeout: AUTH_DEADLINE_MS }, (socket) => this.#accept(socket));
      server.on('tlsClientError', () => undefined);
      this.#servers.push(server);
      const port = await new Promise<number>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, ip, () => resolve((server.address() as { port: number }).port));
      });
      this.addresses.push(`${ip}:${port}`);
    }
  }

  /** A new single-use token, and the connection of the agent that will present it. */
  expect(): { token: Buffer; connection: Promise<AgentConnection> } {
    const token = randomBytes(32);
    const connection = new Promise<AgentConnection>((resolve) => this.#expected.push({ token, resolve }));
    return { token, connection };
  }

  #accept(socket: tls.TLSSocket): void {
    const peer = `${socket.remoteAddress}:${socket.remotePort}`;
    let onMessage: ((message: AgentOutput) => void) | undefined;
    let onEnd: ((why?: string) => void) | undefined;
    const early: AgentOutput[] = [];
    let ended: { why?: string } | undefined;
    let authenticated = false;
    const deadline = setTimeout(() => {
      this.#refused(peer, `no agent token within ${AUTH_DEADLINE_MS} ms`);
      socket.destroy();
    }, AUTH_DEADLINE_MS);
    deadline.unref();
    const channel = new MessageChannel<AgentOutput, AgentInput>(
      socket,
      socket,
      { in: agentMessages.output, out: agentMessages.input },
      (message) => {
        if (authenticated) return onMessage ? onMessage(message) : void early.push(message);
        clearTimeout(deadline);
        const token = message.auth?.token === undefined ? undefined : Buffer.from(message.auth.token);
        const i = token === undefined ? -1 : this.#expected.findIndex((e) => e.token.length === token.length && timingSafeEqual(e.token, token));
        if (i < 0) {
          this.#refused(peer, 'an agent connection without a valid token');
          socket.destroy();
          return;
        }
        authenticated = true;
        const [entry] = this.#expected.splice(i, 1);
        entry?.resolve({
          channel,
          attach: (message, end) => {
            onMessage = message;
            onEnd = end;
            for (const m of early.splice(0)) message(m);
            if (ended) end(ended.why);
          },
        });
      },
      (why) => {
        clearTimeout(deadline);
        if (onEnd) onEnd(why);
        else ended = why === undefined ? {} : { why };
      },
    );
    socket.on('error', () => undefined);
  }

  close(): void {
    for (const server of this.#servers) server.close();
  }
}
