// TLS material for the two-process baselines, made with tsmpi's own PKI (a job
// CA, ECDSA P-256 certificates for "rank 0" and "rank 1") by bench/run.ts,
// outside the measured processes, and handed to them over stdin.
import { createCsr, generateKeyPair, JobCa } from '../src/security/pki.js';

/** PEM certificate, key and CA of one side. */
export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** Both sides of a baseline pair. */
export interface PairMaterial {
  server: TlsMaterial;
  client: TlsMaterial;
}

async function rankMaterial(ca: JobCa, rank: number): Promise<TlsMaterial> {
  const keys = await generateKeyPair();
  const certPem = await ca.issue(await createCsr(keys, `rank ${rank}`), { jobId: ca.jobId, role: 'rank', rank });
  return { caPem: ca.certPem, certPem, keyPem: keys.privateKeyPem };
}

/** A fresh CA and one certificate for each side. */
export async function pairMaterial(): Promise<PairMaterial> {
  const ca = await JobCa.create();
  const [server, client] = await Promise.all([rankMaterial(ca, 0), rankMaterial(ca, 1)]);
  return { server, client };
}
