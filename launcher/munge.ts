/**
 * Sealing a message with munge (the authentication service Slurm uses): the
 * payload is encrypted and MACed with the cluster's munge key, decodable only
 * by the given user, within munge's time-to-live, once (munged refuses a
 * replayed credential). Used for what must cross Slurm's unencrypted I/O
 * forwarding (see `SealedHello` in proto/tsmpi.proto). Payloads travel on the
 * tools' stdin and stdout, never in argv.
 */
import { spawn } from 'node:child_process';

/** `--socket` for munge/unmunge when munged's socket is not the default one. */
function socketArgs(socket: string | undefined): string[] {
  return socket === undefined || socket === '' ? [] : ['--socket', socket];
}

function tool(command: string, args: string[], input: Buffer | string): Promise<{ stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', (error) => reject(new Error(`cannot run ${command}: ${error.message}`)));
    child.on('close', (code) => (code === 0 ? resolve({ stdout: Buffer.concat(out), stderr }) : reject(new Error(`${command} failed (exit status ${code}): ${stderr.trim()}`))));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}

/** Seals `payload` for user `uid`; resolves to the credential text. */
export async function seal(payload: Buffer, uid: number, socket?: string): Promise<string> {
  const { stdout } = await tool('munge', [...socketArgs(socket), '--restrict-uid', String(uid)], payload);
  return stdout.toString('utf8').trim();
}

/** Opens a credential; rejects unless munged vouches for it and it was made by user `uid`. */
export async function unseal(credential: string, uid: number, socket?: string): Promise<Buffer> {
  // On stdout: the metadata asked for (the encoder's UID), a blank line, then the payload.
  const { stdout } = await tool('unmunge', [...socketArgs(socket), '--keys=UID', '--numeric'], credential);
  const blank = stdout.indexOf('\n\n');
  const encoder = /UID:\s*(\d+)/.exec(stdout.subarray(0, Math.max(0, blank)).toString('utf8'))?.[1];
  if (blank < 0 || encoder === undefined || Number(encoder) !== uid) throw new Error(`the sealed hello was made by user ${encoder ?? 'unknown'}, not this job's user ${uid}`);
  return stdout.subarray(blank + 2);
}
