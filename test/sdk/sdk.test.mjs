// The official @dfns/sdk against a running countersign server, with the SDK
// doing every request as it would against Dfns:
//  - a user with a Key credential registers, logs in and lists its credentials
//    (spec §1, §2.3, §2.4, §4.1, §4.3);
//  - the same user adds, deactivates and reactivates a second Key credential,
//    the SDK signing each user action itself, and reads the audit log
//    (spec §4.2, §4.3, §4.7, §5);
//  - user-action tokens are bound to their request and single-use (spec §5.2).
// The tests share state in order: each one needs the ones before it.
//
// test/sdk/run.sh starts a fresh server for this file, invites the user
// (the organisation's owner: it reads the audit log) and sets the
// environment lib.mjs's invitationEnv reads.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';

import { DfnsApiClient, DfnsAuthenticator } from '@dfns/sdk';
import { AsymmetricKeySigner } from '@dfns/sdk-keysigner';

import {
  KeyCredential,
  describeError,
  invitationEnv,
  isoMillis,
  json,
  jwtClaims,
  login,
  register,
  sdk,
  sdkError,
} from './lib.mjs';

const invitation = invitationEnv();
const { baseUrl, orgId, username } = invitation;

// The registered user, shared by the tests below in order.
let key; // its first credential, a KeyCredential
let registered; // UserRegistrationResponse
let token; // its login JWT

test('a Key credential user registers, logs in and lists credentials with @dfns/sdk', async (t) => {
  key = new KeyCredential();

  await t.test('register with a Key attestation', async () => {
    registered = await register(invitation, key);
    assert.equal(registered.credential?.kind, 'Key', `credential in ${json(registered)}`);
    assert.match(registered.credential.uuid ?? '', /^cr-/, `credential.uuid in ${json(registered)}`);
    assert.equal(registered.user?.username, username, `user in ${json(registered)}`);
    assert.equal(registered.user.orgId, orgId, `user in ${json(registered)}`);
  });

  await t.test('log in with AsymmetricKeySigner', async (t) => {
    if (!registered) return t.skip('registration failed');
    const signer = new AsymmetricKeySigner({ privateKey: key.privateKeyPem, credId: key.credId });
    const res = await login(invitation, signer);
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

test('the Key user adds, deactivates and reactivates a second Key credential, and the audit log shows it', async (t) => {
  const second = new KeyCredential();
  const secondName = 'second key';
  let secondUuid; // cr-… of the second credential
  let firstUuid; // cr-… of the registration credential
  const since = new Date(Date.now() - 1000); // start of the audit-log window

  await t.test('createCredentialChallenge + createCredential add a second Key credential', async (t) => {
    if (!token) return t.skip('login failed');
    firstUuid = registered.credential.uuid;
    const api = apiClient(key.signer);
    const challenge = await sdk('createCredentialChallenge', () =>
      api.auth.createCredentialChallenge({ body: { kind: 'Key' } }),
    );
    assert.equal(challenge.kind, 'Key', `credential challenge ${json(challenge)}`);
    assert.equal(typeof challenge.challenge, 'string', `credential challenge ${json(challenge)}`);
    assert.equal(typeof challenge.challengeIdentifier, 'string', `credential challenge ${json(challenge)}`);
    // The new key attests the credential challenge (spec §2.4); the SDK has
    // the first key sign the user action (spec §4.3: two signatures).
    const { credentialInfo } = await second.create(challenge);
    const created = await sdk('createCredential', () =>
      api.auth.createCredential({
        body: {
          credentialKind: 'Key',
          credentialName: secondName,
          challengeIdentifier: challenge.challengeIdentifier,
          credentialInfo,
        },
      }),
    );
    assert.equal(created.kind, 'Key', `created ${json(created)}`);
    assert.equal(created.credentialId, second.credId, `created ${json(created)}`);
    assert.match(created.credentialUuid ?? '', /^cr-/, `created ${json(created)}`);
    assert.notEqual(created.credentialUuid, firstUuid, `created ${json(created)}`);
    assert.equal(created.name, secondName, `created ${json(created)}`);
    assert.equal(created.isActive, true, `created ${json(created)}`);
    assert.equal(created.publicKey, second.publicKeyPem, `created ${json(created)}`);
    assert.match(created.dateCreated ?? '', isoMillis, `created ${json(created)}`);
    secondUuid = created.credentialUuid;
  });

  await t.test('listCredentials shows both Key credentials, both active', async (t) => {
    if (!secondUuid) return t.skip('createCredential failed');
    const items = await listCredentials();
    assert.equal(items.length, 2, `items ${json(items)}`);
    assert.equal(findCredential(items, firstUuid).credentialId, key.credId, `items ${json(items)}`);
    assert.equal(findCredential(items, secondUuid).credentialId, second.credId, `items ${json(items)}`);
    assertActive(items, { [firstUuid]: true, [secondUuid]: true });
  });

  await t.test('deactivateCredential makes the second credential inactive', async (t) => {
    if (!secondUuid) return t.skip('createCredential failed');
    const res = await sdk('deactivateCredential', () =>
      apiClient(key.signer).auth.deactivateCredential({ body: { credentialUuid: secondUuid } }),
    );
    assert.equal(typeof res.message, 'string', `deactivateCredential response ${json(res)}`);
    assertActive(await listCredentials(), { [firstUuid]: true, [secondUuid]: false });
  });

  await t.test('the deactivated key can neither sign a user action nor log in', async (t) => {
    if (!secondUuid) return t.skip('createCredential failed');
    const activateSecond = (signer) => () =>
      apiClient(signer).auth.activateCredential({ body: { credentialUuid: secondUuid } });
    const loginWith = (signer) => () => new DfnsAuthenticator({ baseUrl, orgId, signer }).login({ orgId, username });

    // The SDK as is: the server no longer lists the key in allowCredentials.key,
    // so AsymmetricKeySigner refuses to sign (DfnsError -1, raised client-side).
    for (const [what, call] of [
      ['user action signed by the deactivated key', activateSecond(second.signer)],
      ['login with the deactivated key', loginWith(second.signer)],
    ]) {
      const err = await sdkError(what, call);
      assert.equal(err.httpStatus, -1, `${what}: ${describeError(err)}`);
      assert.match(err.message, /does not match allowed credentials/, `${what}: ${describeError(err)}`);
    }

    // A client that signs anyway: the server refuses the assertion, 401
    // from POST /auth/action and from POST /auth/login.
    for (const [what, call, url] of [
      ['user action force-signed by the deactivated key', activateSecond(second.forcedSigner()), '/auth/action'],
      ['login force-signed by the deactivated key', loginWith(second.forcedSigner()), '/auth/login'],
    ]) {
      const err = await sdkError(what, call);
      assert.equal(err.httpStatus, 401, `${what}: ${describeError(err)}`);
      assert.ok(String(err.context?.url).endsWith(url), `${what}: refused by ${url}? ${describeError(err)}`);
    }
    assertActive(await listCredentials(), { [firstUuid]: true, [secondUuid]: false });
  });

  await t.test('activateCredential reactivates it and the second key logs in again', async (t) => {
    if (!secondUuid) return t.skip('createCredential failed');
    const res = await sdk('activateCredential', () =>
      apiClient(key.signer).auth.activateCredential({ body: { credentialUuid: secondUuid } }),
    );
    assert.equal(typeof res.message, 'string', `activateCredential response ${json(res)}`);
    assertActive(await listCredentials(), { [firstUuid]: true, [secondUuid]: true });
    const authenticator = new DfnsAuthenticator({ baseUrl, orgId, signer: second.signer });
    const login = await sdk('login with the reactivated key', () => authenticator.login({ orgId, username }));
    assert.equal(typeof login.token, 'string', `login response ${json(login)}`);
  });

  await t.test('listAuditLogs has the three signed actions, getAuditLog one with its assertion', async (t) => {
    if (!secondUuid) return t.skip('createCredential failed');
    const api = apiClient(key.signer);
    const query = {
      startTime: since.toISOString(),
      endTime: new Date(Date.now() + 1000).toISOString(),
      userId: registered.user.id,
    };
    const csv = await sdk('listAuditLogs', () => api.auth.listAuditLogs({ query }));
    assert.equal(typeof csv, 'string', `listAuditLogs answered ${json(csv)}, not the CSV as a JSON string`);
    const [header, ...lines] = parseCsv(csv);
    assert.deepEqual(header, auditCsvHeader, `CSV header in ${json(csv)}`);
    const rows = lines.map(auditRow);

    // One row per signed action of this test, each signed by the first key.
    const expected = [
      { what: 'create', path: '/auth/credentials', mentions: secondName },
      { what: 'deactivate', path: '/auth/credentials/deactivate', mentions: secondUuid },
      { what: 'activate', path: '/auth/credentials/activate', mentions: secondUuid },
    ];
    const found = {};
    for (const { what, path, mentions } of expected) {
      const matching = rows.filter((r) => r.actionPath === path && r.summary.includes(mentions));
      assert.equal(matching.length, 1, `one ${what} row (${path}, summary mentioning ${mentions}) in ${json(csv)}`);
      const [row] = matching;
      assert.match(row.auditLogId, /^uj-/, `${what} row ${json(row)}`);
      assert.match(row.datePerformed, isoMillis, `${what} row ${json(row)}`);
      assert.equal(row.userId, registered.user.id, `${what} row ${json(row)}`);
      assert.equal(row.username, username, `${what} row ${json(row)}`);
      assert.equal(row.primaryCredentialId, firstUuid, `${what} row ${json(row)}`);
      found[what] = row;
    }

    const row = found.deactivate;
    const entry = await sdk('getAuditLog', () => api.auth.getAuditLog({ id: row.auditLogId }));
    assert.equal(entry.id, row.auditLogId, `audit log ${json(entry)}`);
    assert.equal(entry.userId, registered.user.id, `audit log ${json(entry)}`);
    assert.equal(entry.username, username, `audit log ${json(entry)}`);
    assert.equal(entry.datePerformed, row.datePerformed, `audit log ${json(entry)}`);
    assert.equal(typeof entry.actionToken, 'string', `audit log ${json(entry)}`);
    const ff = entry.firstFactorCredential ?? {};
    assert.equal(ff.id, firstUuid, `firstFactorCredential ${json(ff)}`);
    assert.equal(ff.kind, 'Key', `firstFactorCredential ${json(ff)}`);
    assert.equal(ff.publicKey, key.publicKeyPem, `firstFactorCredential ${json(ff)}`);
    assert.ok(ff.assertion, `firstFactorCredential.assertion in ${json(ff)}`);
    assert.equal(ff.assertion.authenticatorData, null, `Key assertion ${json(ff.assertion)}`);
    // The evidence checks out: the first key signed these clientData bytes (spec §2.3).
    const clientData = Buffer.from(ff.assertion.clientData, 'base64url');
    assert.equal(JSON.parse(clientData.toString('utf8')).type, 'key.get', `clientData ${clientData}`);
    const signature = Buffer.from(ff.assertion.signature, 'base64url');
    assert.ok(
      crypto.verify('sha256', clientData, ff.publicKey, signature),
      `the audit log's signature does not verify over its clientData: ${json(ff.assertion)}`,
    );
  });

  await t.test('a user-action token is bound to its body and used once', async (t) => {
    if (!secondUuid) return t.skip('createCredential failed');
    // A token signed for "deactivate credential A" (the second key) through
    // the SDK's own /auth/action/init and /auth/action methods.
    const path = '/auth/credentials/deactivate';
    const signedBody = json({ credentialUuid: secondUuid });
    const userAction = await signUserAction(apiClient(key.signer), key.signer, 'PUT', path, signedBody);

    // Replayed on credential B (the first key): refused, and not spent.
    const swapped = await putWithUserAction(path, json({ credentialUuid: firstUuid }), userAction);
    assert.equal(swapped.status, 403, `token of A used on B: ${json(swapped)}`);
    assertActive(await listCredentials(), { [firstUuid]: true, [secondUuid]: true });

    const used = await putWithUserAction(path, signedBody, userAction);
    assert.equal(used.status, 200, `token used as signed: ${json(used)}`);
    assertActive(await listCredentials(), { [firstUuid]: true, [secondUuid]: false });

    const replayed = await putWithUserAction(path, signedBody, userAction);
    assert.equal(replayed.status, 400, `token used twice: ${json(replayed)}`);
    assert.equal(replayed.body?.error?.message, 'user action has already been used', `token used twice: ${json(replayed)}`);
  });
});

// auditCsvHeader is the first line of GET /auth/action/logs (spec §4.7).
const auditCsvHeader = [
  'Date Performed',
  'Audit Log ID',
  'User ID',
  'Username',
  'Primary Credential ID',
  'Action Path',
  'Summary',
];

// auditRow names the fields of one audit-log CSV line.
function auditRow(fields) {
  assert.equal(fields.length, auditCsvHeader.length, `audit CSV row ${json(fields)}`);
  const [datePerformed, auditLogId, userId, username, primaryCredentialId, actionPath, summary] = fields;
  return { datePerformed, auditLogId, userId, username, primaryCredentialId, actionPath, summary };
}

// apiClient is the logged-in user's DfnsApiClient; signer signs its user actions.
function apiClient(signer) {
  return new DfnsApiClient({ baseUrl, orgId, authToken: token, signer });
}

async function listCredentials() {
  const res = await sdk('listCredentials', () => apiClient(key.signer).auth.listCredentials());
  assert.ok(Array.isArray(res.items), `listCredentials response ${json(res)}`);
  return res.items;
}

function findCredential(items, credentialUuid) {
  const cred = items.find((c) => c.credentialUuid === credentialUuid);
  assert.ok(cred, `credential ${credentialUuid} in ${json(items)}`);
  return cred;
}

// assertActive checks isActive of each credential named in want {uuid: bool}.
function assertActive(items, want) {
  const got = Object.fromEntries(Object.keys(want).map((uuid) => [uuid, findCredential(items, uuid).isActive]));
  assert.deepEqual(got, want, `isActive by credentialUuid in ${json(items)}`);
}

// signUserAction does the user-action ceremony by hand (spec §5.1 steps 2-4)
// and returns the token for one request.
async function signUserAction(api, signer, method, path, payload) {
  const challenge = await sdk('createUserActionChallenge', () =>
    api.auth.createUserActionChallenge({
      body: { userActionPayload: payload, userActionHttpMethod: method, userActionHttpPath: path, userActionServerKind: 'Api' },
    }),
  );
  const firstFactor = await signer.sign(challenge);
  const res = await sdk('createUserActionSignature', () =>
    api.auth.createUserActionSignature({ body: { challengeIdentifier: challenge.challengeIdentifier, firstFactor } }),
  );
  assert.equal(typeof res.userAction, 'string', `createUserActionSignature response ${json(res)}`);
  return res.userAction;
}

// putWithUserAction sends a PUT with plain fetch, as an attacker holding the
// login token and a user-action token would, and returns {status, body}.
async function putWithUserAction(path, body, userAction) {
  const res = await fetch(new URL(path, baseUrl), {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'x-dfns-useraction': userAction,
    },
    body,
  });
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

// parseCsv splits RFC 4180 text into rows of fields (quoted fields may hold
// commas, doubled quotes and newlines); a final line break ends no extra row.
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else {
      field += ch;
    }
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}
