// The official SDK through countersign's gateway (spec/gateway.md §5):
// userActionFetch, unchanged, signs requests to examples/orders behind
// countersign exactly as it signs requests to the Auth API, for a Key
// credential user, a PAT and a service account; refused approvals and
// identities never reach the upstream, and the upstream's guard refuses
// requests that did not come through countersign.
//
// test/sdk/run.sh starts examples/orders and gives countersign a
// configuration putting it at /api/ (COUNTERSIGN_ORDERS_URL is where it
// listens). The tests share state in order.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { BaseAuthApi, DfnsApiClient } from '@dfns/sdk';
import { userActionFetch } from '@dfns/sdk/utils/userActionFetch.js';
import { AsymmetricKeySigner } from '@dfns/sdk-keysigner';

import { KeyCredential, describeError, invitationEnv, json, login, readEnv, register, sdk, sdkError } from './lib.mjs';

const invitation = invitationEnv();
const { baseUrl, orgId } = invitation;
const ordersUrl = readEnv(['COUNTERSIGN_ORDERS_URL']).COUNTERSIGN_ORDERS_URL;

const order = { amount: 12.5, currency: 'EUR', customer: 'ACME' };
const owner = {};
const machines = {};
let orders = 0; // how many orders the upstream has created: ids are o-1, o-2, ...

// send makes a gateway request as an SDK client would: userActionFetch
// signs every method but GET.
function send(authToken, signer, method, path, body) {
  return userActionFetch(path, { method, body, apiOptions: { baseUrl, orgId, authToken, signer } }).then((r) => r.json());
}

async function created(what, call, username) {
  const o = await sdk(what, call);
  orders++;
  assert.equal(o.id, `o-${orders}`, `${what}: the order ${json(o)}`);
  assert.equal(o.createdBy, username, `${what}: the upstream's verified identity ${json(o)}`);
  assert.equal(o.amount, order.amount, `${what}: the exact body reached the upstream ${json(o)}`);
  assert.match(o.approval ?? '', /^ua-/, `${what}: the approval id ${json(o)}`);
  return o;
}

test('the owner registers, logs in, and creates and reads an order through the gateway', async () => {
  owner.key = new KeyCredential();
  await register(invitation, owner.key);
  owner.token = (await login(invitation, owner.key.signer)).token;
  owner.api = new DfnsApiClient({ baseUrl, orgId, authToken: owner.token, signer: owner.key.signer });
  const o = await created('POST /api/orders by the owner', () => send(owner.token, owner.key.signer, 'POST', '/api/orders', order), invitation.username);
  const read = await sdk('GET /api/orders/:id', () => send(owner.token, undefined, 'GET', `/api/orders/${o.id}`));
  assert.deepEqual(read, o, 'the order reads back');
  const health = await fetch(`${baseUrl}/api/health`).then((r) => r.json());
  assert.equal(health.status, 'ok', 'a public route needs no token');
});

test('a PAT of the owner creates an order with its own key', async () => {
  const key = new KeyCredential();
  const pat = await sdk('createPersonalAccessToken', () =>
    owner.api.auth.createPersonalAccessToken({ body: { name: 'orders pat', publicKey: key.publicKeyPem, daysValid: 1 } }),
  );
  machines.pat = { token: pat.accessToken, signer: new AsymmetricKeySigner({ privateKey: key.privateKeyPem, credId: pat.credId }) };
  await created('POST /api/orders by the PAT', () => send(pat.accessToken, machines.pat.signer, 'POST', '/api/orders', order), invitation.username);
});

test('a service account holding Orders:Create creates an order; one without it is refused before signing', async () => {
  const perm = await sdk('createPermission of the declared operations', () =>
    owner.api.permissions.createPermission({ body: { name: 'order clerks', operations: ['Orders:Create', 'Orders:Read'] } }),
  );
  for (const [name, permissionId] of [['clerk', perm.id], ['idler', undefined]]) {
    const key = new KeyCredential();
    const sa = await sdk(`createServiceAccount ${name}`, () =>
      owner.api.auth.createServiceAccount({ body: { name, publicKey: key.publicKeyPem, ...(permissionId ? { permissionId } : {}) } }),
    );
    const at = sa.accessTokens[0];
    machines[name] = { token: at.accessToken, signer: new AsymmetricKeySigner({ privateKey: key.privateKeyPem, credId: at.credId }) };
  }
  await created('POST /api/orders by the service account', () =>
    send(machines.clerk.token, machines.clerk.signer, 'POST', '/api/orders', order), 'clerk@ServiceAccount');
  const err = await sdkError('POST /api/orders by a service account without Orders:Create', () =>
    send(machines.idler.token, machines.idler.signer, 'POST', '/api/orders', order),
  );
  assert.equal(err.httpStatus, 403, describeError(err));
  assert.ok(String(err.context?.url).endsWith('/auth/action/init'), `refused before signing: ${describeError(err)}`);
  const read = await sdkError('GET by a service account without Orders:Read', () => send(machines.idler.token, undefined, 'GET', '/api/orders/o-1'));
  assert.equal(read.httpStatus, 403, describeError(read));
});

// approve gets a user-action token for one request, as userActionFetch
// does, so the test can send another request with it.
async function approve(authToken, signer, method, path, body) {
  const apiOptions = { baseUrl, orgId, authToken, signer };
  const challenge = await BaseAuthApi.createUserActionChallenge(
    { userActionPayload: JSON.stringify(body), userActionHttpMethod: method, userActionHttpPath: path, userActionServerKind: 'Api' },
    apiOptions,
  );
  const firstFactor = await signer.sign(challenge);
  return (await BaseAuthApi.signUserActionChallenge({ challengeIdentifier: challenge.challengeIdentifier, firstFactor }, apiOptions)).userAction;
}

async function raw(authToken, userAction, method, path, body) {
  const headers = { authorization: `Bearer ${authToken}`, 'content-type': 'application/json' };
  if (userAction) headers['x-dfns-useraction'] = userAction;
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

test('a replayed, body-swapped, path-swapped or other-identity approval is refused and nothing reaches the upstream', async () => {
  const ua = await approve(owner.token, owner.key.signer, 'POST', '/api/orders', order);
  const swapped = await raw(owner.token, ua, 'POST', '/api/orders', { ...order, amount: 1250 });
  assert.equal(swapped.status, 403, `another body: ${json(swapped)}`);
  const otherPath = await raw(owner.token, ua, 'POST', '/api/orders/o-1', order);
  assert.equal(otherPath.status, 404, `another path (no route): ${json(otherPath)}`);
  const ua2 = await approve(owner.token, owner.key.signer, 'POST', '/api/orders', order);
  const stolen = await raw(machines.clerk.token, ua2, 'POST', '/api/orders', order);
  assert.equal(stolen.status, 403, `another identity: ${json(stolen)}`);
  const ua3 = await approve(owner.token, owner.key.signer, 'POST', '/api/orders', order);
  const first = await raw(owner.token, ua3, 'POST', '/api/orders', order);
  assert.equal(first.status, 201, `the approved request: ${json(first)}`);
  orders++;
  assert.equal(first.body.id, `o-${orders}`, `no refused request created an order before it: ${json(first)}`);
  const replay = await raw(owner.token, ua3, 'POST', '/api/orders', order);
  assert.equal(replay.status, 400, `a replay: ${json(replay)}`);
  await created('the next order', () => send(owner.token, owner.key.signer, 'POST', '/api/orders', order), invitation.username);
});

test('the upstream refuses a request that did not come through countersign', async () => {
  for (const [what, headers] of [
    ['without an assertion', {}],
    ['with a forged assertion', { 'x-countersign-assertion': 'eyJhbGciOiJFUzI1NiIsInR5cCI6ImNvdW50ZXJzaWduLWFzc2VydGlvbitqd3QifQ.e30.AAAA' }],
    ['with the owner\'s login token as the assertion', { 'x-countersign-assertion': owner.token }],
  ]) {
    const res = await fetch(`${ordersUrl}/api/orders`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(order) });
    assert.equal(res.status, 401, `straight to the upstream ${what}: ${res.status}`);
  }
  const read = await fetch(`${ordersUrl}/api/orders/o-1`);
  assert.equal(read.status, 401, 'a read straight to the upstream');
});

test('the audit log names the upstream and what it answered', async () => {
  const csv = await sdk('listAuditLogs', () => owner.api.auth.listAuditLogs({ query: {} }));
  const line = String(csv).split('\n').find((l) => l.includes('/api/orders'));
  assert.ok(line, `a row for /api/orders in ${csv}`);
  assert.match(line, /Create an order of 12\.5 EUR for ACME/, `the rendered summary: ${line}`);
  const id = line.split(',')[1];
  const entry = await sdk('getAuditLog', () => owner.api.auth.getAuditLog({ id }));
  assert.equal(entry.upstream, 'orders', `audit log ${json(entry)}`);
  assert.match(entry.upstreamStatus ?? '', /^(201|400)$/, `the upstream's status: ${json(entry)}`);
});
