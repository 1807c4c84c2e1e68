import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BootstrapTokens, createCsr, generateKeyPair, identityUri, JobCa, parseIdentity } from '../../src/security/pki.js';

describe('job PKI', () => {
  it('issues a leaf whose SAN names job and rank, signed by the job CA', async () => {
    const ca = await JobCa.create();
    const keys = await generateKeyPair();
    const pem = await ca.issue(await createCsr(keys, 'whatever the CSR asks'), { jobId: ca.jobId, role: 'rank', rank: 3 });
    const leaf = new X509Certificate(pem);
    expect(leaf.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe(`URI:${identityUri({ jobId: ca.jobId, role: 'rank', rank: 3 })}`);
    expect(parseIdentity(leaf.subjectAltName)).toEqual({ jobId: ca.jobId, role: 'rank', rank: 3 });
    expect(leaf.checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(keys.privateKeyPem)))).toBe(true);
  });

  it('refuses a CSR whose signature does not verify', async () => {
    const ca = await JobCa.create();
    const keys = await generateKeyPair();
    const der = await createCsr(keys, 'x');
    const tampered = der.slice();
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1; // corrupt the signature
    await expect(ca.issue(tampered, { jobId: ca.jobId, role: 'rank', rank: 0 })).rejects.toThrow(/signature|parse/);
    await expect(ca.issue(new Uint8Array([0x30, 0x03, 1, 2, 3]), { jobId: ca.jobId, role: 'rank', rank: 0 })).rejects.toThrow(/parse/);
  });

  it('reads no identity from foreign, ambiguous or malformed SANs', () => {
    expect(parseIdentity(undefined)).toBeUndefined();
    expect(parseIdentity('DNS:localhost')).toBeUndefined();
    expect(parseIdentity('URI:urn:tsmpi:job:abcdefgh:rank:01')).toBeUndefined();
    expect(parseIdentity('URI:urn:tsmpi:job:abcdefgh:rank:1, URI:urn:tsmpi:job:abcdefgh:rank:2')).toBeUndefined();
    expect(parseIdentity('URI:urn:tsmpi:job:abcdefgh:coordinator')).toEqual({ jobId: 'abcdefgh', role: 'coordinator' });
  });

  it('redeems each bootstrap token once, for its own rank only', () => {
    const tokens = new BootstrapTokens();
    const t0 = tokens.create(0);
    const t1 = tokens.create(1);
    expect(tokens.redeem(1, t0)).toBe(false);
    expect(tokens.redeem(0, t0)).toBe(true);
    expect(tokens.redeem(0, t0)).toBe(false);
    expect(tokens.redeem(1, t1.subarray(1))).toBe(false);
    expect(tokens.redeem(1, t1)).toBe(true);
  });
});
