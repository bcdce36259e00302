// Helpers shared by the SDK test files (sdk.test.mjs, machines.test.mjs):
// the environment run.sh sets, an in-memory Key credential, registration and
// login through the SDK, and error reporting that shows what the server said.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';

import { DfnsAuthenticator, DfnsError } from '@dfns/sdk';
import { AsymmetricKeySigner } from '@dfns/sdk-keysigner';

// isoMillis is JS toISOString(), the timestamp format of spec §1.4.
export const isoMillis = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

// readEnv returns the named environment variables, all of which must be set.
export function readEnv(names) {
  const missing = names.filter((n) => !process.env[n]);
  if (missing.length > 0) {
    throw new Error(`missing environment: ${missing.join(', ')} (run test/sdk/run.sh)`);
  }
  return Object.fromEntries(names.map((n) => [n, process.env[n]]));
}

// invitationEnv is what run.sh sets for each test file: a fresh server and
// the invitation of its organisation's owner.
//   COUNTERSIGN_URL                 e.g. http://127.0.0.1:PORT
//   COUNTERSIGN_ORG_ID              the org the user was invited to
//   COUNTERSIGN_USERNAME            the invited username, the org owner
//   COUNTERSIGN_REGISTRATION_CODE   the invitation's registration code
export function invitationEnv() {
  const env = readEnv([
    'COUNTERSIGN_URL',
    'COUNTERSIGN_ORG_ID',
    'COUNTERSIGN_USERNAME',
    'COUNTERSIGN_REGISTRATION_CODE',
  ]);
  return {
    baseUrl: env.COUNTERSIGN_URL,
    orgId: env.COUNTERSIGN_ORG_ID,
    username: env.COUNTERSIGN_USERNAME,
    registrationCode: env.COUNTERSIGN_REGISTRATION_CODE,
  };
}

// register registers the invited user with key as its first credential
// and returns the UserRegistrationResponse. orgId in the options makes the
// SDK check the temporary token's org claim (spec §1.7).
export async function register({ baseUrl, orgId, username, registrationCode }, key) {
  const authenticator = new DfnsAuthenticator({ baseUrl, orgId, signer: key });
  return sdk('register', () => authenticator.register({ orgId, username, registrationCode }));
}

// login logs username in with signer and returns the login response ({token}).
export async function login({ baseUrl, orgId, username }, signer) {
  const authenticator = new DfnsAuthenticator({ baseUrl, orgId, signer });
  return sdk('login', () => authenticator.login({ orgId, username }));
}

// KeyCredential is a P-256 Key credential held in memory. Its create is the
// SDK's CredentialStore for Key credentials, built like @dfns/sdk-browser's
// BrowserKeySigner.create (spec §2.4); sign is the keysigner's (spec §2.3).
export class KeyCredential {
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

  // forcedSigner signs any challenge, even one whose allowCredentials.key
  // does not offer this credential: a client that skips the keysigner's check.
  forcedSigner() {
    return {
      sign: (challenge) =>
        this.signer.sign({
          ...challenge,
          allowCredentials: { ...challenge.allowCredentials, key: [{ type: 'public-key', id: this.credId }] },
        }),
    };
  }
}

// sdk runs one SDK call and, when it fails, says which call and what the
// server answered (status, URL and the whole error body).
export async function sdk(what, call) {
  try {
    return await call();
  } catch (err) {
    if (err instanceof DfnsError) {
      throw new Error(`${what}: ${describeError(err)}`, { cause: err });
    }
    if (err instanceof SyntaxError) {
      throw new Error(`${what}: the response is not JSON (every error must be, spec §1.6): ${err.message}`, {
        cause: err,
      });
    }
    throw new Error(`${what}: ${err.message}`, { cause: err });
  }
}

// sdkError runs an SDK call that must fail and returns its DfnsError.
export async function sdkError(what, call) {
  let res;
  try {
    res = await call();
  } catch (err) {
    assert.ok(err instanceof DfnsError, `${what}: expected a DfnsError, got ${err?.stack ?? err}`);
    return err;
  }
  assert.fail(`${what}: expected a DfnsError, but it succeeded with ${json(res)}`);
}

// describeError says what the server answered: status, URL and the whole error body.
export function describeError(err) {
  const ctx = err.context ?? {};
  return `HTTP ${err.httpStatus} ${err.message}\n  url: ${ctx.url}\n  body: ${json(ctx.body)}`;
}

export function jwtClaims(jwt) {
  const parts = jwt.split('.');
  assert.equal(parts.length, 3, `token is not a JWT: ${jwt}`);
  return JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
}

export function base64url(buf) {
  return Buffer.from(buf).toString('base64url');
}

export function json(v) {
  return JSON.stringify(v);
}

// startSMTP listens on 127.0.0.1:COUNTERSIGN_SMTP_PORT, where run.sh's
// server sends its mail, with nodemailer's smtp-server, and returns
// next(): the raw text of the next message received (in order). A local
// relay: no TLS, as the server's --smtp-url says (tls=none).
export async function startSMTP() {
  const { SMTPServer } = await import('smtp-server');
  const port = Number(readEnv(['COUNTERSIGN_SMTP_PORT']).COUNTERSIGN_SMTP_PORT);
  const received = [];
  const waiting = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, session, callback) {
      const chunks = [];
      stream.on('data', (c) => chunks.push(c));
      stream.on('end', () => {
        const message = { to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') };
        const w = waiting.shift();
        if (w) w(message);
        else received.push(message);
        callback();
      });
    },
  });
  await new Promise((resolve, reject) => server.listen(port, '127.0.0.1', resolve).once('error', reject));
  return {
    next: () => (received.length > 0 ? Promise.resolve(received.shift()) : new Promise((resolve) => waiting.push(resolve))),
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

// textOf is a message's text with quoted-printable soft line breaks and
// escapes undone: enough to read a code or a link out of it.
export function textOf(raw) {
  return raw.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
}
