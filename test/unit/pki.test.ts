import { X509Certificate } from 'node:crypto';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { BootstrapTokens, createCsr, generateRsaKeyPair, identityUri, JobCa, parseIdentity } from '../../src/security/pki.js';

describe('job PKI', () => {
  it('issues a leaf whose SAN names job and rank, signed by the job CA', async () => {
    const ca = await JobCa.create();
    const keys = await generateRsaKeyPair();
    const pem = ca.issue(createCsr(keys, 'whatever the CSR asks'), { jobId: ca.jobId, role: 'rank', rank: 3 });
    const leaf = new X509Certificate(pem);
    expect(leaf.verify(new X509Certificate(ca.certPem).publicKey)).toBe(true);
    expect(leaf.subjectAltName).toBe(`URI:${identityUri({ jobId: ca.jobId, role: 'rank', rank: 3 })}`);
    expect(parseIdentity(leaf.subjectAltName)).toEqual({ jobId: ca.jobId, role: 'rank', rank: 3 });
    expect(leaf.checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(keys.privateKeyPem)))).toBe(true);
  });

  it('refuses a CSR whose signature does not verify', async () => {
    const ca = await JobCa.create();
    const keys = await generateRsaKeyPair();
    const der = Buffer.from(createCsr(keys, 'x').replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 1] = (der[der.length - 1] as number) ^ 1; // corrupt the signature
    const tampered = forge.pki.certificationRequestToPem(forge.pki.certificationRequestFromAsn1(forge.asn1.fromDer(der.toString('binary'))));
    expect(() => ca.issue(tampered, { jobId: ca.jobId, role: 'rank', rank: 0 })).toThrow(/signature/);
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
