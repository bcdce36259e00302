// The official @dfns/sdk against countersign's recovery, credential codes
// and registration-code resends (spec §4.1, §4.3, §4.8), every call made
// as the SDK makes it:
//  - registration with a recoveryCredential, then sendRecoveryCode,
//    createRecoveryChallenge and recover with a RecoveryKey credential the
//    test made: every earlier credential and token stops working;
//  - createCredentialCode, createCredentialChallengeWithCode and
//    createCredentialWithCode add a Key credential with a one-time code;
//  - resendRegistrationCode mails a new registration link.
// The mails come through an SMTP server this file runs (lib.mjs).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { DfnsApiClient, DfnsAuthenticator, DfnsError } from '@dfns/sdk';

import { KeyCredential, base64url, invitationEnv, json, login, register, sdk, sdkError, startSMTP, textOf } from './lib.mjs';

const invitation = invitationEnv();
const { baseUrl, orgId } = invitation;

let smtp;
let owner; // { key, token }

before(async () => {
  smtp = await startSMTP();
  const key = new KeyCredential();
  await register(invitation, key);
  const { token } = await login(invitation, key.signer);
  owner = { key, token };
});

after(() => smtp?.close());

function api(token, signer) {
  return new DfnsApiClient({ baseUrl, orgId, authToken: token, signer });
}

// recoveryKeyOf is a KeyCredential's attestation as a RecoveryKey (spec
// §2.4: the same recipe), with an encrypted private key the test chose.
async function recoveryKeyOf(key, challenge) {
  const { credentialInfo } = await key.create(challenge);
  return { credentialKind: 'RecoveryKey', credentialInfo, credentialName: 'Recovery key', encryptedPrivateKey: 'sealed by the test' };
}

// invite creates a user as the owner, returning the registration code.
async function invite(email) {
  const user = await sdk('createUser', () =>
    api(owner.token, owner.key.signer).auth.createUser({ body: { email, kind: 'CustomerEmployee' } }),
  );
  assert.equal(typeof user.registrationCode, 'string', `createUser ${json(user)}`);
  return user;
}

test('recover with a RecoveryKey credential: every earlier credential and token stops working', async (t) => {
  const username = 'rescue@example.com';
  const invited = await invite(username);
  await smtp.next(); // the invitation mail
  const first = new KeyCredential();
  const recoveryKey = new KeyCredential();

  await t.test('register with a recoveryCredential', async () => {
    const anon = new DfnsApiClient({ baseUrl, orgId });
    const challenge = await sdk('createRegistrationChallenge', () =>
      anon.auth.createRegistrationChallenge({ body: { orgId, username, registrationCode: invited.registrationCode } }),
    );
    const temp = new DfnsApiClient({ baseUrl, orgId, authToken: challenge.temporaryAuthenticationToken });
    const res = await sdk('register', async () =>
      temp.auth.register({
        body: { firstFactorCredential: await first.create(challenge), recoveryCredential: await recoveryKeyOf(recoveryKey, challenge) },
      }),
    );
    assert.equal(res.credential.kind, 'Key', `register ${json(res)}`);
  });

  const { token: oldToken } = await login({ baseUrl, orgId, username }, first.signer);
  const replacement = new KeyCredential();

  await t.test('sendRecoveryCode, createRecoveryChallenge and recover', async () => {
    const anon = new DfnsApiClient({ baseUrl, orgId });
    const sent = await sdk('sendRecoveryCode', () => anon.auth.sendRecoveryCode({ body: { username, orgId } }));
    assert.equal(typeof sent.message, 'string', `sendRecoveryCode ${json(sent)}`);
    const mail = await smtp.next();
    assert.deepEqual(mail.to, [username]);
    const verificationCode = /\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b/.exec(textOf(mail.raw))?.[0];
    assert.ok(verificationCode, `no verification code in ${mail.raw}`);

    const challenge = await sdk('createRecoveryChallenge', () =>
      anon.auth.createRecoveryChallenge({ body: { username, verificationCode, orgId, credentialId: recoveryKey.credId } }),
    );
    assert.deepEqual(challenge.allowedRecoveryCredentials, [{ id: recoveryKey.credId, encryptedRecoveryKey: 'sealed by the test' }]);
    // The new credentials attest the challenge; the recovery key signs
    // them: its clientData challenge is base64url(JSON of newCredentials).
    const newCredentials = { firstFactorCredential: await replacement.create(challenge) };
    const { credentialAssertion } = await recoveryKey.signer.sign({
      challenge: base64url(Buffer.from(JSON.stringify(newCredentials))),
      allowCredentials: { key: [{ type: 'public-key', id: recoveryKey.credId }], webauthn: [] },
    });
    const temp = new DfnsApiClient({ baseUrl, orgId, authToken: challenge.temporaryAuthenticationToken });
    const res = await sdk('recover', () =>
      temp.auth.recover({ body: { recovery: { kind: 'RecoveryKey', credentialAssertion }, newCredentials } }),
    );
    assert.equal(res.user.username, username, `recover ${json(res)}`);
  });

  await t.test('the old token and key are refused, the new key signs in', async () => {
    const err = await sdkError('listCredentials with the old token', () => api(oldToken, first.signer).auth.listCredentials());
    assert.equal(err.httpStatus, 401, `old token: ${err.message}`);
    const loginErr = await sdkError('login with the old key', () =>
      new DfnsAuthenticator({ baseUrl, orgId, signer: first.forcedSigner() }).login({ orgId, username }),
    );
    assert.equal(loginErr.httpStatus, 401, `old key: ${loginErr.message}`);
    const { token } = await login({ baseUrl, orgId, username }, replacement.signer);
    const { items } = await sdk('listCredentials', () => api(token, replacement.signer).auth.listCredentials());
    const active = items.filter((c) => c.isActive).map((c) => c.credentialId);
    assert.deepEqual(active, [replacement.credId], `credentials ${json(items)}`);
  });
});

test('createCredentialCode, createCredentialChallengeWithCode and createCredentialWithCode add a credential', async () => {
  const expiration = new Date(Date.now() + 60_000).toISOString();
  const { code } = await sdk('createCredentialCode', () =>
    api(owner.token, owner.key.signer).auth.createCredentialCode({ body: { expiration } }),
  );
  assert.match(code, /^([0-9A-Z]{5}-){4}[0-9A-Z]{5}$/);
  const device = new DfnsApiClient({ baseUrl, orgId }); // signed in nowhere
  const challenge = await sdk('createCredentialChallengeWithCode', () =>
    device.auth.createCredentialChallengeWithCode({ body: { code, credentialKind: 'Key' } }),
  );
  const phone = new KeyCredential();
  const { credentialInfo } = await phone.create(challenge);
  const created = await sdk('createCredentialWithCode', () =>
    device.auth.createCredentialWithCode({
      body: { credentialKind: 'Key', credentialInfo, credentialName: 'phone', challengeIdentifier: challenge.challengeIdentifier },
    }),
  );
  assert.equal(created.credentialId, phone.credId, `created ${json(created)}`);
  await login(invitation, phone.signer);
  const again = await sdkError('a used code', () =>
    device.auth.createCredentialChallengeWithCode({ body: { code, credentialKind: 'Key' } }),
  );
  assert.ok(again instanceof DfnsError && again.httpStatus === 401, `a used code answered ${again.httpStatus}`);
});

test('resendRegistrationCode mails a new registration link', async () => {
  const username = 'late@example.com';
  const invited = await invite(username);
  await smtp.next(); // the invitation mail
  const anon = new DfnsApiClient({ baseUrl, orgId });
  const res = await sdk('resendRegistrationCode', () => anon.auth.resendRegistrationCode({ body: { username, orgId } }));
  assert.equal(typeof res.message, 'string', `resendRegistrationCode ${json(res)}`);
  const mail = await smtp.next();
  const link = new URL(/http:\/\/localhost:\d+\/register\?\S+/.exec(textOf(mail.raw))?.[0] ?? 'http://x/');
  const registrationCode = link.searchParams.get('code');
  assert.ok(registrationCode && registrationCode !== invited.registrationCode, `the resent link ${link}`);
  const old = await sdkError('register with the old code', () =>
    new DfnsAuthenticator({ baseUrl, orgId, signer: new KeyCredential() }).register({
      orgId, username, registrationCode: invited.registrationCode,
    }),
  );
  assert.equal(old.httpStatus, 401);
  await register({ baseUrl, orgId, username, registrationCode }, new KeyCredential());
});
