// The official @dfns/sdk against a running countersign server, for machine
// identities and the organisation's administration:
//  - the owner creates a permission and a service account holding it
//    (spec §4.5, §4.9, §6);
//  - the service account acts with its own access token and Key, the SDK
//    signing its user actions: it creates a user and a permission, and is
//    refused what its permission lacks (spec §4.6, §5.3, §7);
//  - service-account reads never show the access token (spec §6);
//  - a PAT of the owner signs its own actions but cannot create a PAT (spec §4.4);
//  - deactivating the service account stops its token at once, and
//    reactivating it restores it (spec §4.5);
//  - listUsers pages with limit/paginationToken through every user once (spec §4.6).
// The tests share state in order: each one needs the ones before it.
//
// test/sdk/run.sh starts a fresh server for this file, invites the owner
// and sets the environment lib.mjs's invitationEnv reads.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';

import { DfnsApiClient } from '@dfns/sdk';
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
const { baseUrl, orgId } = invitation;

// The owner, registered and logged in by the first test.
const owner = { key: undefined, userId: undefined, api: undefined };
// The permission the owner gives the service account.
const saOperations = ['Auth:Users:Create', 'Auth:Users:Read', 'Permissions:Create'];
let saPermission; // Permission
// The service account: its userId (= serviceAccountId), tokenId and client.
const sa = { id: undefined, tokenId: undefined, api: undefined };
// The users created through createUser, by the owner or the service account.
const invited = []; // CreateUserResponse
// Every access token (bearer) issued to this file: no later answer may show one.
const bearers = [];

test('the owner registers and logs in', async () => {
  owner.key = new KeyCredential();
  const registered = await register(invitation, owner.key);
  owner.userId = registered.user?.id;
  assert.match(owner.userId ?? '', /^us-/, `registration response ${json(registered)}`);
  const { token } = await login(invitation, owner.key.signer);
  assert.equal(typeof token, 'string', 'login answered no token');
  owner.api = client(token, owner.key.signer);
});

test('the owner creates a permission and a service account holding it', async (t) => {
  await t.test('createPermission', async (t) => {
    if (!owner.api) return t.skip('the owner did not log in');
    const name = 'machines: user admin';
    saPermission = await sdk('createPermission', () =>
      owner.api.permissions.createPermission({ body: { name, operations: saOperations } }),
    );
    assert.match(saPermission.id ?? '', /^pm-/, `permission ${json(saPermission)}`);
    assert.equal(saPermission.name, name, `permission ${json(saPermission)}`);
    assert.deepEqual(saPermission.operations, saOperations, `permission ${json(saPermission)}`);
    assert.equal(saPermission.isArchived, false, `permission ${json(saPermission)}`);
    assert.match(saPermission.dateCreated ?? '', isoMillis, `permission ${json(saPermission)}`);
  });

  await t.test('createServiceAccount with a fresh P-256 key and the permission', async (t) => {
    if (!saPermission) return t.skip('createPermission failed');
    const key = new KeyCredential();
    const created = await sdk('createServiceAccount', () =>
      owner.api.auth.createServiceAccount({
        body: { name: 'machines robot', publicKey: key.publicKeyPem, permissionId: saPermission.id },
      }),
    );
    const info = created.userInfo ?? {};
    const at = created.accessTokens?.[0] ?? {};
    assert.match(info.userId ?? '', /^us-/, `service account ${json(created)}`);
    assert.equal(typeof at.accessToken, 'string', `the creation answer shows the token once: ${json(created)}`);
    assert.equal(typeof at.credId, 'string', `accessTokens[0].credId in ${json(created)}`);
    sa.id = info.userId;
    sa.tokenId = at.tokenId;
    bearers.push(at.accessToken);
    // The key the server now knows under credId signs the SA's user actions.
    sa.api = client(at.accessToken, new AsymmetricKeySigner({ privateKey: key.privateKeyPem, credId: at.credId }));

    assert.equal(info.isServiceAccount, true, `userInfo ${json(info)}`);
    assert.equal(info.isActive, true, `userInfo ${json(info)}`);
    assert.equal(info.kind, 'CustomerEmployee', `userInfo ${json(info)}`);
    assert.equal(info.orgId, orgId, `userInfo ${json(info)}`);
    assert.deepEqual(
      (info.permissionAssignments ?? []).map((a) => a.permissionId),
      [saPermission.id],
      `the service account holds the permission it was created with: ${json(info)}`,
    );

    assert.equal(created.accessTokens.length, 1, `accessTokens in ${json(created)}`);
    assert.equal(at.kind, 'ServiceAccount', `access token ${json(at)}`);
    assert.match(at.tokenId ?? '', /^to-/, `access token ${json(at)}`);
    assert.equal(at.linkedUserId, info.userId, `access token ${json(at)}`);
    assertSamePublicKey(at.publicKey, key.publicKeyPem, `access token ${json(at)}`);
    assert.equal(at.isActive, true, `access token ${json(at)}`);
    const claims = jwtClaims(at.accessToken);
    assert.equal(claims['https://custom/app_metadata']?.orgId, orgId, `SA token claims ${json(claims)}`);
  });
});

test('the service account acts within its permission, the SDK signing for it', async (t) => {
  await t.test('createUser answers a user with its registration code', async (t) => {
    if (!sa.api) return t.skip('createServiceAccount failed');
    const email = 'machines-by-sa@example.com';
    const user = await sdk('createUser by the service account', () =>
      sa.api.auth.createUser({ body: { email, kind: 'CustomerEmployee' } }),
    );
    assertInvitedUser(user, email);
    invited.push(user);
  });

  await t.test('createPermission within its own operations', async (t) => {
    if (!sa.api) return t.skip('createServiceAccount failed');
    const operations = ['Auth:Users:Read'];
    const perm = await sdk('createPermission by the service account', () =>
      sa.api.permissions.createPermission({ body: { name: 'machines: user reader', operations } }),
    );
    assert.match(perm.id ?? '', /^pm-/, `permission ${json(perm)}`);
    assert.deepEqual(perm.operations, operations, `permission ${json(perm)}`);
  });

  await t.test('listServiceAccounts, which it may not do: 403', async (t) => {
    if (!sa.api) return t.skip('createServiceAccount failed');
    const err = await sdkError('listServiceAccounts by the service account', () => sa.api.auth.listServiceAccounts());
    assert.equal(err.httpStatus, 403, describeError(err));
    assert.match(err.message, /Auth:ServiceAccounts:Read/, `the refusal names the operation: ${describeError(err)}`);
  });

  await t.test('createPermission with an operation it does not hold: 403', async (t) => {
    if (!sa.api) return t.skip('createServiceAccount failed');
    const err = await sdkError('createPermission of Auth:Pats:Create by the service account', () =>
      sa.api.permissions.createPermission({ body: { name: 'machines: too strong', operations: ['Auth:Pats:Create'] } }),
    );
    assert.equal(err.httpStatus, 403, describeError(err));
  });
});

test('service-account reads never show the access token', async (t) => {
  if (!sa.id) return t.skip('createServiceAccount failed');
  const list = await sdk('listServiceAccounts', () => owner.api.auth.listServiceAccounts());
  assert.ok(Array.isArray(list.items), `listServiceAccounts response ${json(list)}`);
  const listed = list.items.find((s) => s.userInfo?.userId === sa.id);
  assert.ok(listed, `service account ${sa.id} in ${json(list)}`);
  assert.deepEqual(
    listed.accessTokens?.map((at) => at.tokenId),
    [sa.tokenId],
    `its access tokens in ${json(listed)}`,
  );
  assertNoAccessToken('listServiceAccounts', list);

  const got = await sdk('getServiceAccount', () => owner.api.auth.getServiceAccount({ serviceAccountId: sa.id }));
  assert.equal(got.userInfo?.userId, sa.id, `getServiceAccount response ${json(got)}`);
  assertNoAccessToken('getServiceAccount', got);
});

test('a PAT of the owner signs its own actions but cannot create a PAT', async (t) => {
  if (!owner.api) return t.skip('the owner did not log in');
  const key = new KeyCredential();
  const created = await sdk('createPersonalAccessToken', () =>
    owner.api.auth.createPersonalAccessToken({
      body: { name: 'machines pat', publicKey: key.publicKeyPem, daysValid: 1 },
    }),
  );
  assert.equal(created.kind, 'Pat', `PAT ${json(created)}`);
  assert.match(created.tokenId ?? '', /^to-/, `PAT ${json(created)}`);
  assert.equal(created.linkedUserId, owner.userId, `PAT ${json(created)}`);
  assertSamePublicKey(created.publicKey, key.publicKeyPem, `PAT ${json(created)}`);
  assert.equal(typeof created.credId, 'string', `PAT ${json(created)}`);
  assert.equal(typeof created.accessToken, 'string', `the creation answer shows the token once: ${json(created)}`);

  bearers.push(created.accessToken);
  const patSigner = new AsymmetricKeySigner({ privateKey: key.privateKeyPem, credId: created.credId });
  const pat = client(created.accessToken, patSigner);

  const name = 'machines pat, renamed by itself';
  const renamed = await sdk('updatePersonalAccessToken by the PAT', () =>
    pat.auth.updatePersonalAccessToken({ tokenId: created.tokenId, body: { name } }),
  );
  assert.equal(renamed.tokenId, created.tokenId, `updatePersonalAccessToken response ${json(renamed)}`);
  assert.equal(renamed.name, name, `updatePersonalAccessToken response ${json(renamed)}`);
  assertNoAccessToken('updatePersonalAccessToken', renamed);

  const perm = await sdk('createPermission by the PAT', () =>
    pat.permissions.createPermission({ body: { name: 'machines: made by a PAT', operations: ['Auth:Logs:Read'] } }),
  );
  assert.match(perm.id ?? '', /^pm-/, `permission ${json(perm)}`);

  const other = new KeyCredential();
  const err = await sdkError('createPersonalAccessToken by the PAT', () =>
    pat.auth.createPersonalAccessToken({ body: { name: 'pat of a pat', publicKey: other.publicKeyPem, daysValid: 1 } }),
  );
  assert.equal(err.httpStatus, 403, describeError(err));
  // Refused at /auth/action/init, before the signer is asked to sign.
  assert.ok(String(err.context?.url).endsWith('/auth/action/init'), `refused before signing? ${describeError(err)}`);
  assert.equal(err.context?.body?.error?.code, 'people_only', describeError(err));

  const pats = await sdk('listPersonalAccessTokens', () => owner.api.auth.listPersonalAccessTokens());
  assert.deepEqual(
    pats.items?.map((p) => [p.tokenId, p.name]),
    [[created.tokenId, name]],
    `the owner's PATs: ${json(pats)}`,
  );
  assertNoAccessToken('listPersonalAccessTokens', pats);
});

test('deactivating the service account stops its token at once; reactivating restores it', async (t) => {
  if (!sa.api) return t.skip('createServiceAccount failed');
  const deactivated = await sdk('deactivateServiceAccount', () =>
    owner.api.auth.deactivateServiceAccount({ serviceAccountId: sa.id, body: {} }),
  );
  assert.equal(deactivated.userInfo?.isActive, false, `deactivateServiceAccount response ${json(deactivated)}`);
  assertNoAccessToken('deactivateServiceAccount', deactivated);

  const err = await sdkError('listUsers by the deactivated service account', () => sa.api.auth.listUsers());
  assert.equal(err.httpStatus, 401, describeError(err));
  assert.ok(String(err.context?.url).endsWith('/auth/users'), `refused by GET /auth/users? ${describeError(err)}`);

  const activated = await sdk('activateServiceAccount', () =>
    owner.api.auth.activateServiceAccount({ serviceAccountId: sa.id }),
  );
  assert.equal(activated.userInfo?.isActive, true, `activateServiceAccount response ${json(activated)}`);
  assertNoAccessToken('activateServiceAccount', activated);

  const users = await sdk('listUsers by the reactivated service account', () => sa.api.auth.listUsers());
  assert.ok(Array.isArray(users.items), `listUsers response ${json(users)}`);
  const email = 'machines-after-reactivation@example.com';
  const user = await sdk('createUser by the reactivated service account', () =>
    sa.api.auth.createUser({ body: { email, kind: 'CustomerEmployee' } }),
  );
  assertInvitedUser(user, email);
  invited.push(user);
});

test('listUsers with limit 2 pages through every user exactly once', async (t) => {
  if (!owner.api) return t.skip('the owner did not log in');
  // Enough users for several pages.
  for (const email of ['machines-1@example.com', 'machines-2@example.com']) {
    const user = await sdk(`createUser ${email}`, () =>
      owner.api.auth.createUser({ body: { email, kind: 'CustomerEmployee' } }),
    );
    assertInvitedUser(user, email);
    invited.push(user);
  }

  const pages = await listUsersPages(2);
  const ids = pages.flat().map((u) => u.userId);
  const summary = `pages of userIds ${json(pages.map((p) => p.map((u) => u.userId)))}`;
  assert.ok(ids.length >= 3, `the owner and at least 2 invited users: ${summary}`);
  assert.equal(pages.length, Math.ceil(ids.length / 2), `pages of 2 for ${ids.length} users: ${summary}`);
  assert.equal(new Set(ids).size, ids.length, `a user appears twice: ${summary}`);
  for (const [who, id] of [
    ['the owner', owner.userId],
    ...invited.map((u) => [`invited user ${u.username}`, u.userId]),
  ]) {
    assert.ok(ids.includes(id), `${who} (${id}) is missing: ${summary}`);
  }

  // The pages together are the one-page list, in the same order.
  const all = await sdk('listUsers limit 500', () => owner.api.auth.listUsers({ query: { limit: 500 } }));
  assert.equal(all.nextPageToken, undefined, `one page of 500 has no next page: ${json(all)}`);
  assert.deepEqual(ids, all.items.map((u) => u.userId), `paged vs unpaged: ${summary}`);
});

// listUsersPages follows nextPageToken → paginationToken until the end and
// returns the pages; every page but the last is full and has a next page.
async function listUsersPages(limit) {
  const pages = [];
  let paginationToken;
  do {
    const query = paginationToken === undefined ? { limit } : { limit, paginationToken };
    const res = await sdk(`listUsers ${json(query)}`, () => owner.api.auth.listUsers({ query }));
    assert.ok(Array.isArray(res.items), `listUsers ${json(query)} response ${json(res)}`);
    assert.ok(res.items.length <= limit, `more than ${limit} users on a page: ${json(res)}`);
    if (res.nextPageToken !== undefined) {
      assert.equal(res.items.length, limit, `a page with a next page is full: ${json(res)}`);
      assert.notEqual(res.nextPageToken, paginationToken, `nextPageToken does not move: ${json(res)}`);
    }
    pages.push(res.items);
    assert.ok(pages.length <= 50, `listUsers never ends: ${pages.length} pages`);
    paginationToken = res.nextPageToken;
  } while (paginationToken !== undefined);
  return pages;
}

// assertInvitedUser checks a createUser answer: a new, unregistered
// CustomerEmployee with the code and link to hand over.
function assertInvitedUser(user, email) {
  const what = `createUser ${email} answered ${json(user)}`;
  assert.match(user.userId ?? '', /^us-/, what);
  assert.equal(user.username, email, what);
  assert.equal(user.kind, 'CustomerEmployee', what);
  assert.equal(user.orgId, orgId, what);
  assert.equal(user.isActive, true, what);
  assert.equal(user.isRegistered, false, what);
  assert.equal(user.isServiceAccount, false, what);
  assert.deepEqual(user.permissionAssignments, [], what);
  assert.equal(typeof user.registrationCode, 'string', what);
  assert.notEqual(user.registrationCode, '', what);
  assert.equal(typeof user.registrationUrl, 'string', what);
  const url = new URL(user.registrationUrl);
  assert.equal(url.searchParams.get('code'), user.registrationCode, `registrationUrl in ${what}`);
  assert.equal(url.searchParams.get('username'), email, `registrationUrl in ${what}`);
}

// assertSamePublicKey checks that pem is the key of expectedPem (the server
// may reformat the PEM it was given).
function assertSamePublicKey(pem, expectedPem, what) {
  assert.equal(typeof pem, 'string', `publicKey in ${what}`);
  const same = crypto.createPublicKey(pem).equals(crypto.createPublicKey(expectedPem));
  assert.ok(same, `publicKey is not the key sent (${json(expectedPem)}): ${what}`);
}

// assertNoAccessToken checks that a response holds no accessToken field
// anywhere, nor any bearer issued earlier.
function assertNoAccessToken(what, res) {
  const text = json(res);
  assert.ok(!text.includes('"accessToken"'), `${what} shows an accessToken: ${text}`);
  for (const bearer of bearers) {
    assert.ok(!text.includes(bearer), `${what} shows an issued bearer token: ${text}`);
  }
}

// client is a DfnsApiClient acting with authToken, signer signing its user
// actions. orgId makes the SDK check the token's org claim (spec §1.7).
function client(authToken, signer) {
  return new DfnsApiClient({ baseUrl, orgId, authToken, signer });
}
