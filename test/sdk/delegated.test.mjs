// The official @dfns/sdk for the delegated flows (spec §4.1, §4.8): an
// application's backend, signed in as a service account, acts for the end
// users of its application.
//  - createDelegatedRegistrationChallenge creates an end user; their
//    device answers the challenge with register (temporary token);
//  - delegatedLogin gives the backend a login token of the end user: it
//    reads as them, and DfnsDelegatedApiClient's *Init/*Complete methods
//    make a change only with the end user's own signature;
//  - createDelegatedRecoveryChallenge replaces the mailed verification
//    code, and recover still takes the end user's recovery key;
//  - a person or a service account without the operation is refused, and
//    a person of the organisation is never signed in by delegation.
// The tests share state in order: each one needs the ones before it.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import { DfnsApiClient, DfnsDelegatedApiClient } from '@dfns/sdk';
import { AsymmetricKeySigner } from '@dfns/sdk-keysigner';

import { KeyCredential, base64url, invitationEnv, json, login, register, sdk, sdkError } from './lib.mjs';

const invitation = invitationEnv();
const { baseUrl, orgId } = invitation;
const delegatedOps = ['Auth:Register:Delegated', 'Auth:Login:Delegated', 'Auth:Recover:Delegated'];

let owner; // { key, api }
let backend; // { key, api }: the service account holding delegatedOps
const eve = { username: 'eve@example.com', first: new KeyCredential(), recovery: new KeyCredential(), id: undefined };

function api(token, signer) {
  return new DfnsApiClient({ baseUrl, orgId, authToken: token, signer });
}

// machineApi is a client of service account sa, whose key is key: the key
// takes the credId the server gave it, so that its signer (and a forced
// one) name the service account's real credential.
function machineApi(sa, key) {
  const at = sa.accessTokens[0];
  key.credId = at.credId;
  key.signer = new AsymmetricKeySigner({ privateKey: key.privateKeyPem, credId: at.credId });
  return api(at.accessToken, key.signer);
}

async function recoveryKeyOf(key, challenge) {
  const { credentialInfo } = await key.create(challenge);
  return { credentialKind: 'RecoveryKey', credentialInfo, credentialName: 'Recovery key', encryptedPrivateKey: 'sealed by the app' };
}

before(async () => {
  const key = new KeyCredential();
  await register(invitation, key);
  const { token } = await login(invitation, key.signer);
  owner = { key, api: api(token, key.signer) };
  const perm = await sdk('createPermission', () =>
    owner.api.permissions.createPermission({ body: { name: 'End users', operations: delegatedOps } }),
  );
  const saKey = new KeyCredential();
  const sa = await sdk('createServiceAccount', () =>
    owner.api.auth.createServiceAccount({ body: { name: 'app backend', publicKey: saKey.publicKeyPem, permissionId: perm.id } }),
  );
  backend = { key: saKey, api: machineApi(sa, saKey) };
});

test('createDelegatedRegistrationChallenge creates an end user whose device registers', async () => {
  const challenge = await sdk('createDelegatedRegistrationChallenge', () =>
    backend.api.auth.createDelegatedRegistrationChallenge({ body: { email: eve.username, kind: 'EndUser', externalId: 'app-7' } }),
  );
  assert.equal(challenge.user.name, eve.username, `challenge ${json(challenge)}`);
  assert.equal(typeof challenge.temporaryAuthenticationToken, 'string');
  const device = new DfnsApiClient({ baseUrl, orgId, authToken: challenge.temporaryAuthenticationToken });
  const res = await sdk('register', async () =>
    device.auth.register({
      body: { firstFactorCredential: await eve.first.create(challenge), recoveryCredential: await recoveryKeyOf(eve.recovery, challenge) },
    }),
  );
  eve.id = res.user.id;
  const user = await sdk('getUser', () => owner.api.auth.getUser({ userId: eve.id }));
  assert.equal(user.kind, 'EndUser', `user ${json(user)}`);
  assert.equal(user.externalId, 'app-7', `user ${json(user)}`);
  assert.equal(user.isRegistered, true, `user ${json(user)}`);
});

test('delegatedLogin reads as the end user; a change takes their own signature', async () => {
  const { token } = await sdk('delegatedLogin', () => backend.api.auth.delegatedLogin({ body: { username: eve.username } }));
  const delegated = new DfnsDelegatedApiClient({ baseUrl, orgId, authToken: token });
  const { items } = await sdk('listCredentials', () => delegated.auth.listCredentials());
  assert.ok(items.some((c) => c.credentialId === eve.first.credId), `credentials ${json(items)}`);

  const body = { expiration: new Date(Date.now() + 60_000).toISOString() };
  const challenge = await sdk('createCredentialCodeInit', () => delegated.auth.createCredentialCodeInit({ body }));
  const keys = challenge.allowCredentials.key.map((k) => k.id);
  assert.ok(keys.includes(eve.first.credId), `allowCredentials ${json(challenge.allowCredentials)}`);
  assert.ok(!keys.includes(backend.key.credId), `the service account's key is offered: ${json(challenge.allowCredentials)}`);

  // The backend's own key cannot stand for the end user's.
  const forged = await backend.key.forcedSigner().sign(challenge);
  const err = await sdkError('a change signed by the service account', () =>
    delegated.auth.createCredentialCodeComplete({ body }, { challengeIdentifier: challenge.challengeIdentifier, firstFactor: forged }),
  );
  assert.ok([401, 403].includes(err.httpStatus), `forged approval: ${err.message}`);

  const again = await sdk('createCredentialCodeInit', () => delegated.auth.createCredentialCodeInit({ body }));
  const firstFactor = await eve.first.signer.sign(again);
  const { code } = await sdk('createCredentialCodeComplete', () =>
    delegated.auth.createCredentialCodeComplete({ body }, { challengeIdentifier: again.challengeIdentifier, firstFactor }),
  );
  assert.match(code ?? '', /^([0-9A-Z]{5}-){4}[0-9A-Z]{5}$/);
});

test('delegation is for service accounts holding the operation, and for end users only', async () => {
  const err = await sdkError('delegatedLogin by the owner', () => owner.api.auth.delegatedLogin({ body: { username: eve.username } }));
  assert.equal(err.httpStatus, 403, err.message);
  const people = await sdkError('delegatedLogin of the owner', () =>
    backend.api.auth.delegatedLogin({ body: { username: invitation.username } }),
  );
  assert.equal(people.httpStatus, 404, people.message);

  const bareKey = new KeyCredential();
  const bare = await sdk('createServiceAccount', () =>
    owner.api.auth.createServiceAccount({ body: { name: 'no delegation', publicKey: bareKey.publicKeyPem } }),
  );
  const bareApi = machineApi(bare, bareKey);
  const refused = await sdkError('delegatedLogin without the operation', () =>
    bareApi.auth.delegatedLogin({ body: { username: eve.username } }),
  );
  assert.equal(refused.httpStatus, 403, refused.message);
});

test('createDelegatedRecoveryChallenge, then recover with the end user recovery key', async () => {
  const challenge = await sdk('createDelegatedRecoveryChallenge', () =>
    backend.api.auth.createDelegatedRecoveryChallenge({ body: { username: eve.username, credentialId: eve.recovery.credId } }),
  );
  assert.deepEqual(challenge.allowedRecoveryCredentials, [{ id: eve.recovery.credId, encryptedRecoveryKey: 'sealed by the app' }]);
  const replacement = new KeyCredential();
  const newCredentials = { firstFactorCredential: await replacement.create(challenge) };
  const { credentialAssertion } = await eve.recovery.signer.sign({
    challenge: base64url(Buffer.from(JSON.stringify(newCredentials))),
    allowCredentials: { key: [{ type: 'public-key', id: eve.recovery.credId }], webauthn: [] },
  });
  const device = new DfnsApiClient({ baseUrl, orgId, authToken: challenge.temporaryAuthenticationToken });
  const res = await sdk('recover', () => device.auth.recover({ body: { recovery: { kind: 'RecoveryKey', credentialAssertion }, newCredentials } }));
  assert.equal(res.user.username, eve.username, `recover ${json(res)}`);
  const { token } = await login({ baseUrl, orgId, username: eve.username }, replacement.signer);
  assert.equal(typeof token, 'string');
});
