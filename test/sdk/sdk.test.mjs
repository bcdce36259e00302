// The official @dfns/sdk against a running countersign server: a user with a
// Key credential registers, logs in and lists its credentials, with the SDK
// doing every request as it would against Dfns (spec §1, §2.3, §2.4, §4.1, §4.3).
//
// test/sdk/run.sh starts the server, invites the user and sets:
//   COUNTERSIGN_URL                 e.g. http://127.0.0.1:PORT
//   COUNTERSIGN_ORG_ID              the org the user was invited to
//   COUNTERSIGN_USERNAME            the invited username
//   COUNTERSIGN_REGISTRATION_CODE   the invitation's registration code
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';

import { DfnsApiClient, DfnsAuthenticator, DfnsError } from '@dfns/sdk';
import { AsymmetricKeySigner } from '@dfns/sdk-keysigner';

const env = readEnv([
  'COUNTERSIGN_URL',
  'COUNTERSIGN_ORG_ID',
  'COUNTERSIGN_USERNAME',
  'COUNTERSIGN_REGISTRATION_CODE',
]);
const baseUrl = env.COUNTERSIGN_URL;
const orgId = env.COUNTERSIGN_ORG_ID;
const username = env.COUNTERSIGN_USERNAME;
const registrationCode = env.COUNTERSIGN_REGISTRATION_CODE;

// isoMillis is JS toISOString(), the timestamp format of spec §1.4.
const isoMillis = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

test('a Key credential user registers, logs in and lists credentials with @dfns/sdk', async (t) => {
  const key = new KeyCredential();
  let registered; // UserRegistrationResponse
  let token; // the login JWT

  await t.test('register with a Key attestation', async () => {
    // orgId in the options makes the SDK check the temporary token's org claim (spec §1.7).
    const authenticator = new DfnsAuthenticator({ baseUrl, orgId, signer: key });
    registered = await sdk('register', () => authenticator.register({ orgId, username, registrationCode }));
    assert.equal(registered.credential?.kind, 'Key', `credential in ${json(registered)}`);
    assert.match(registered.credential.uuid ?? '', /^cr-/, `credential.uuid in ${json(registered)}`);
    assert.equal(registered.user?.username, username, `user in ${json(registered)}`);
    assert.equal(registered.user.orgId, orgId, `user in ${json(registered)}`);
  });

  await t.test('log in with AsymmetricKeySigner', async (t) => {
    if (!registered) return t.skip('registration failed');
    const signer = new AsymmetricKeySigner({ privateKey: key.privateKeyPem, credId: key.credId });
    const authenticator = new DfnsAuthenticator({ baseUrl, orgId, signer });
    const res = await sdk('login', () => authenticator.login({ orgId, username }));
    assert.equal(typeof res.token, 'string', `login response ${json(res)}`);
    const claims = jwtClaims(res.token);
    assert.equal(claims['https://custom/app_metadata']?.orgId, orgId, `JWT claims ${json(claims)}`);
    token = res.token;
  });

  await t.test('listCredentials shows the one Key credential', async (t) => {
    if (!token) return t.skip('login failed');
    const signer = new AsymmetricKeySigner({ privateKey: key.privateKeyPem, credId: key.credId });
    const client = new DfnsApiClient({ baseUrl, orgId, authToken: token, signer });
    const res = await sdk('listCredentials', () => client.auth.listCredentials());
    assert.ok(Array.isArray(res.items), `listCredentials response ${json(res)}`);
    assert.equal(res.items.length, 1, `items ${json(res.items)}`);
    const [cred] = res.items;
    assert.equal(cred.kind, 'Key', `credential ${json(cred)}`);
    assert.equal(cred.credentialId, key.credId, `credential ${json(cred)}`);
    assert.equal(cred.credentialUuid, registered.credential.uuid, `credential ${json(cred)}`);
    assert.equal(cred.isActive, true, `credential ${json(cred)}`);
    assert.match(cred.dateCreated ?? '', isoMillis, `credential ${json(cred)}`);
  });
});

// KeyCredential is a P-256 Key credential held in memory. Its create is the
// SDK's CredentialStore for Key credentials, built like @dfns/sdk-browser's
// BrowserKeySigner.create (spec §2.4); sign is the keysigner's (spec §2.3).
class KeyCredential {
  constructor() {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    // Node's PEM ends with "\n" where the browser signer's does not: the
    // server must use the PEM exactly as received.
    this.publicKeyPem = publicKey.export({ type: 'spki', format: 'pem' });
    this.privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' });
    this.credId = base64url(crypto.randomBytes(32));
    this.signer = new AsymmetricKeySigner({ privateKey: this.privateKeyPem, credId: this.credId });
  }

  // create answers a registration (or credential) challenge with a KeyAttestation.
  async create(challenge) {
    const clientData = Buffer.from(JSON.stringify({ type: 'key.create', challenge: challenge.challenge }));
    const clientDataHash = crypto.createHash('sha256').update(clientData).digest('hex');
    // Key order matters: the server rebuilds this exact string.
    const fingerprint = JSON.stringify({ clientDataHash, publicKey: this.publicKeyPem });
    // ECDSA over SHA-256, ASN.1 DER, hex-encoded.
    const signature = crypto.sign('sha256', Buffer.from(fingerprint), this.privateKeyPem).toString('hex');
    const attestationData = JSON.stringify({ publicKey: this.publicKeyPem, signature });
    return {
      credentialKind: 'Key',
      credentialInfo: {
        credId: this.credId,
        clientData: base64url(clientData),
        attestationData: base64url(Buffer.from(attestationData)),
      },
    };
  }

  // sign answers a login or user-action challenge with a KeyAssertion.
  async sign(challenge) {
    return this.signer.sign(challenge);
  }
}

// sdk runs one SDK call and, when it fails, says which call and what the
// server answered (status, URL and the whole error body).
async function sdk(what, call) {
  try {
    return await call();
  } catch (err) {
    if (err instanceof DfnsError) {
      const ctx = err.context ?? {};
      throw new Error(
        `${what}: HTTP ${err.httpStatus} ${err.message}\n  url: ${ctx.url}\n  body: ${json(ctx.body)}`,
        { cause: err },
      );
    }
    if (err instanceof SyntaxError) {
      throw new Error(`${what}: the response is not JSON (every error must be, spec §1.6): ${err.message}`, {
        cause: err,
      });
    }
    throw new Error(`${what}: ${err.message}`, { cause: err });
  }
}

function readEnv(names) {
  const missing = names.filter((n) => !process.env[n]);
  if (missing.length > 0) {
    throw new Error(`missing environment: ${missing.join(', ')} (run test/sdk/run.sh)`);
  }
  return Object.fromEntries(names.map((n) => [n, process.env[n]]));
}

function jwtClaims(jwt) {
  const parts = jwt.split('.');
  assert.equal(parts.length, 3, `token is not a JWT: ${jwt}`);
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}

function base64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

function json(v) {
  return JSON.stringify(v);
}
