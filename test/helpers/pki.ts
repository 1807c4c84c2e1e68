// Certificates made at test time, with the product's own CA code.
import { createCsr, generateKeyPair, type JobCa } from '../../src/security/pki.js';
import type { TlsMaterial } from '../../src/security/tls.js';

/** TLS material for `rank` of `ca`'s job, optionally valid for `validityMs` only (negative: expired). */
export async function rankMaterial(ca: JobCa, rank: number, validityMs?: number): Promise<TlsMaterial> {
  const keys = await generateKeyPair();
  const certPem = await ca.issue(await createCsr(keys, `rank ${rank}`), { jobId: ca.jobId, role: 'rank', rank }, validityMs);
  return { caPem: ca.certPem, certPem, keyPem: keys.privateKeyPem };
}
