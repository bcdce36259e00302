// countersign's browser script: passkey registration and sign-in, and the
// console, whose every state-changing button runs User Action Signing.
//
// One ES module: no framework, no dependencies, no build step. Each page names
// itself with data-page on its root element and carries its endpoint URLs and
// data in data-* attributes, so nothing here knows a path. WebAuthn options
// and results are encoded exactly as @dfns/sdk-browser does (spec §2.2): the
// challenge and the user handle are the UTF-8 bytes of their strings,
// credential ids are base64url raw ids, and binary results travel as
// unpadded base64url. The session cookie is set by the server (HttpOnly):
// no token ever reaches this script; the console's API requests carry it as
// same-origin requests.

const TIMEOUT_MS = 60_000; // as @dfns/sdk-browser's default wait

const messages = {
  prompt: 'Follow the prompt of your browser or security key.',
  checking: 'Checking your passkey…',
  saving: 'Saving your passkey…',
  notAllowed:
    'The passkey prompt was closed or no passkey for this site was found. Try again, or use another device.',
  authFailed:
    "That passkey wasn't accepted. Check your username, or use a passkey registered for this site.",
  invalidCode:
    'This invitation link is invalid, has expired or was already used. Ask your administrator for a new one.',
  duplicate: 'This authenticator already holds a passkey for this account.',
  network: "Can't reach countersign. Check your connection and try again.",
  unsupported:
    "This browser can't use passkeys. Try a current version of Chrome, Edge, Firefox or Safari.",
  unexpected: 'Something went wrong. Try again, or reload the page.',
};

// What the console says when a signed request fails, by the server's error
// code or the browser's error name. Anything else shows the server's message.
const consoleMessages = {
  authentication_failed: "Your passkey's signature wasn't accepted, so nothing was changed. Try again.",
  attestation_failed:
    "The new credential's signature over its challenge wasn't accepted, so it was not added. Check the key and the signature, and try again.",
  user_action_invalid: 'The approval was missing or not accepted, so nothing was changed. Try again.',
  user_action_mismatch: "The approval didn't match the request sent, so it was refused and nothing was changed.",
  user_action_used: 'That approval was already used once, so it was refused. Approve the change again.',
  last_active_credential:
    'This is your last active credential: add another one before you deactivate it, or you could not sign in again.',
  immutable: "Built-in permissions and their assignments can't be changed.",
  conflict: 'That already exists: choose another name.',
  people_only: 'Only a person signed in with a passkey can do this.',
  unauthorized: 'Your session has ended. Sign in again to continue.',
  cross_origin: 'This request did not come from this page, so it was refused. Reload the page.',
  rate_limited: 'Too many requests at once. Wait a moment and try again.',
  NotAllowedError: 'The passkey prompt was closed or timed out, so nothing was changed.',
  InvalidStateError: 'This authenticator already holds a passkey for your account. Use another one.',
};

const consoleText = {
  cancelled: 'Cancelled: nothing was sent and nothing changed.',
  cancelledNothingAdded: 'Cancelled: nothing was added to your account.',
  preparing: 'Preparing the request…',
  create: 'Follow the prompt to create the new credential.',
  approve: 'Approve with your passkey in the prompt of your browser or security key.',
  approving: 'Checking the approval…',
  generating: 'Generating a key pair in this browser…',
  noPasskey:
    "None of your credentials can approve from a browser: add a passkey with a script or SDK first.",
  pasteKey: 'Paste the PEM public key of the token, or let the browser generate a key pair.',
  pem: 'Paste a PEM public key: the lines from -----BEGIN PUBLIC KEY----- to -----END PUBLIC KEY-----.',
  signature: 'Paste the signature as hexadecimal, as the openssl command prints it.',
  signNow: 'Sign the text shown with your private key, then paste the signature.',
  orphanSignalled:
    'Your authenticator had already made the new passkey; since it was not added, your browser was asked to remove it, so it will not be offered for signing in.',
  orphanLeft:
    'Your authenticator had already made the new passkey, and this browser cannot be asked to remove it: delete the unused passkey for this site in your password manager or security key settings. It cannot sign in.',
  sessionEnding: (at) => `Your session ends at ${at}. Sign in again to keep working without interruption.`,
  sessionEnded: 'Your session has ended, so nothing more can be changed here. Sign in again to come back to this page.',
  signedOutElsewhere: 'You signed out in another tab. Sign in again to come back to this page.',
  orphanUnknown:
    'Your authenticator had already made the new passkey; whether it was added is unknown. Reload the page: if it is not listed, delete it in your password manager or security key settings.',
  copied: 'Copied.',
  copyByHand: 'Select the text and copy it with your keyboard.',
};

// APIError is a failed request: the server's stable error code and message,
// or the code "network" when the server could not be reached.
class APIError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'APIError';
    this.code = code;
  }
}

// requestJSON sends a same-origin request and returns the JSON answer, or
// throws an APIError. body is the exact text to send (none when undefined);
// token, when given, goes in the Authorization header. The session cookie
// goes along with every same-origin request.
async function requestJSON(method, url, { body, headers = {}, token, signal } = {}) {
  const all = { Accept: 'application/json', ...headers };
  if (body !== undefined) all['Content-Type'] = 'application/json';
  if (token) all.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(url, { method, headers: all, body, credentials: 'same-origin', signal });
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new APIError('network', messages.network);
  }
  const data = await res.json().catch(() => null);
  if (!res.ok) {
    const message = data?.error?.message ?? data?.message ?? `${res.status} ${res.statusText}`;
    throw new APIError(data?.error?.code ?? `http_${res.status}`, message);
  }
  return data ?? {};
}

// postJSON sends body as JSON (see requestJSON).
function postJSON(url, body, options = {}) {
  return requestJSON('POST', url, { ...options, body: JSON.stringify(body) });
}

// base64url converts between bytes and unpadded base64url (spec §1.8): bytes
// in, string out; string in, bytes out. It is the one fallback kept for
// browsers without the WebAuthn JSON helpers.
function base64url(value) {
  if (typeof value === 'string') {
    const binary = atob(value.replace(/-/g, '+').replace(/_/g, '/'));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  }
  const binary = String.fromCharCode(...new Uint8Array(value));
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// textBytes is base64url(utf8(text)): how the Dfns browser SDK turns the
// challenge and user id strings into WebAuthn bytes.
function textBytes(text) {
  return base64url(new TextEncoder().encode(text));
}

// creationOptions turns a RegistrationChallenge (spec §3) into the options
// of navigator.credentials.create.
function creationOptions(ch) {
  const json = {
    challenge: textBytes(ch.challenge),
    rp: { id: ch.rp.id, name: ch.rp.name },
    user: { id: textBytes(ch.user.id), name: ch.user.name, displayName: ch.user.displayName },
    pubKeyCredParams: ch.pubKeyCredParams.map(({ type, alg }) => ({ type, alg })),
    excludeCredentials: ch.excludeCredentials.map(({ type, id }) => ({ type, id })),
    authenticatorSelection: ch.authenticatorSelection,
    attestation: ch.attestation,
    timeout: TIMEOUT_MS,
  };
  if (PublicKeyCredential.parseCreationOptionsFromJSON) {
    return PublicKeyCredential.parseCreationOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: base64url(json.challenge),
    user: { ...json.user, id: base64url(json.user.id) },
    excludeCredentials: json.excludeCredentials.map((c) => ({ ...c, id: base64url(c.id) })),
  };
}

// requestOptions turns a LoginChallenge (spec §4.1) into the options of
// navigator.credentials.get. Its Fido2 allow-list is empty for a
// usernameless sign-in: any passkey of this site may answer.
function requestOptions(ch) {
  const json = {
    challenge: textBytes(ch.challenge),
    rpId: ch.rp.id,
    userVerification: ch.userVerification,
    allowCredentials: ch.allowCredentials.webauthn.map(({ type, id, transports }) =>
      transports?.length ? { type, id, transports } : { type, id },
    ),
    timeout: TIMEOUT_MS,
  };
  if (PublicKeyCredential.parseRequestOptionsFromJSON) {
    return PublicKeyCredential.parseRequestOptionsFromJSON(json);
  }
  return {
    ...json,
    challenge: base64url(json.challenge),
    allowCredentials: json.allowCredentials.map((c) => ({ ...c, id: base64url(c.id) })),
  };
}

// credentialJSON is credential.toJSON(), or the same fields built by hand.
function credentialJSON(credential) {
  if (typeof credential.toJSON === 'function') return credential.toJSON();
  const r = credential.response;
  const response = { clientDataJSON: base64url(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = base64url(r.attestationObject);
    response.transports = r.getTransports?.() ?? [];
  } else {
    response.authenticatorData = base64url(r.authenticatorData);
    response.signature = base64url(r.signature);
    if (r.userHandle) response.userHandle = base64url(r.userHandle);
  }
  return { id: credential.id, type: credential.type, response };
}

// passkeyName names a new passkey after its provider, read from the
// AAGUID in its authenticator data and looked up in the list countersign
// serves (providersUrl); without a known provider, after what it is.
async function passkeyName(credential, json, providersUrl) {
  const provider = await providerOf(credential, providersUrl);
  if (provider) return provider.slice(0, 100);
  const transports = json.response.transports ?? [];
  const roaming = ['usb', 'nfc', 'ble'].some((t) => transports.includes(t));
  const local = ['internal', 'hybrid'].some((t) => transports.includes(t));
  return roaming && !local ? 'Security key' : 'Passkey';
}

// providers caches the AAGUID list for the page's lifetime.
let providers;

// providerOf returns the provider name of a new credential's AAGUID, or
// "" (unknown, undisclosed, or the list could not be read).
async function providerOf(credential, providersUrl) {
  const data = credential.response.getAuthenticatorData?.();
  if (!providersUrl || !data) return '';
  const bytes = new Uint8Array(data);
  // rpIdHash (32), flags (1, bit 6: attested data), signCount (4), AAGUID.
  if (bytes.length < 53 || !(bytes[32] & 0x40)) return '';
  const h = hex(bytes.slice(37, 53));
  const id = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  try {
    providers ??= await requestJSON('GET', providersUrl);
  } catch {
    return '';
  }
  return providers[id] ?? '';
}

// registrationBody is the NewCredential of /auth/registration (spec §4.1).
function registrationBody(json, name) {
  return {
    firstFactorCredential: {
      credentialKind: 'Fido2',
      credentialInfo: {
        credId: json.id,
        clientData: json.response.clientDataJSON,
        attestationData: json.response.attestationObject,
        transports: json.response.transports ?? [],
      },
      credentialName: name,
    },
  };
}

// signedChallenge is the SignedChallenge of /auth/login and /auth/action
// (spec §3).
function signedChallenge(ch, json) {
  const r = json.response;
  return {
    challengeIdentifier: ch.challengeIdentifier,
    firstFactor: {
      kind: 'Fido2',
      credentialAssertion: {
        credId: json.id,
        clientData: r.clientDataJSON,
        authenticatorData: r.authenticatorData,
        signature: r.signature,
        userHandle: r.userHandle ?? undefined, // omitted when absent
      },
    },
  };
}

// describe turns a failure into a sentence for the user. One message covers
// an unknown user and a wrong passkey: the page must not tell which.
function describe(err) {
  const key = err.name === 'APIError' ? err.code : err.name;
  switch (key) {
    case 'authentication_failed':
      return messages.authFailed;
    case 'invalid_registration_code':
      return messages.invalidCode;
    case 'NotAllowedError':
      return messages.notAllowed;
    case 'InvalidStateError':
      return messages.duplicate;
    default:
      if (err.name === 'APIError') return err.message;
      console.error(err);
      return messages.unexpected;
  }
}

// say shows text in the page's live region; kind styles it.
function say(root, text, kind = 'progress') {
  const region = root.querySelector('[aria-live]');
  region.textContent = text;
  region.dataset.kind = text ? kind : '';
}

// setBusy disables a button while a request runs and shows label on it.
function setBusy(button, busy, label) {
  if (busy) {
    button.dataset.idleLabel ??= button.textContent;
    button.textContent = label;
  } else if (button.dataset.idleLabel) {
    button.textContent = button.dataset.idleLabel;
  }
  button.disabled = busy;
  button.setAttribute('aria-busy', String(busy));
}

// fail ends a request: the button works again and the reason is shown. An
// aborted request stays quiet: the user started another one.
function fail(root, button, err) {
  setBusy(button, false);
  say(root, err.name === 'AbortError' ? '' : describe(err), 'error');
}

// follow opens the page the server sends the user to, same origin only.
function follow(next) {
  const url = new URL(next, location.href);
  if (url.origin !== location.origin) throw new Error(`refusing to follow ${next}`);
  location.assign(url.href);
}

// ---------------------------------------------------------------------------
// WebAuthn Signal API: tells the browser, and through it the passkey
// provider, what this site accepts, so it stops offering passkeys that can
// no longer sign in and shows the person's current name. Each call is
// feature-detected and never fails the action it follows: a browser without
// it simply keeps what it has.

// signalCall runs one Signal API method if the browser has it; it returns
// whether the browser took the signal.
async function signalCall(method, options) {
  if (typeof PublicKeyCredential?.[method] !== 'function') return false;
  try {
    await PublicKeyCredential[method](options);
    return true;
  } catch (err) {
    console.warn(`PublicKeyCredential.${method}`, err);
    return false;
  }
}

// signalSignedIn, after a sign-in, sends the person's name and the passkeys
// that still sign in (the server lists them in its answer).
async function signalSignedIn(signal) {
  if (!signal) return;
  const { rpId, userId, name, displayName, allAcceptedCredentialIds } = signal;
  await signalCall('signalCurrentUserDetails', { rpId, userId, name, displayName });
  await signalCall('signalAllAcceptedCredentials', { rpId, userId, allAcceptedCredentialIds });
}

// signalAccepted re-reads the caller's credentials and sends the active
// passkeys among them: after a deactivation the provider hides (or
// deletes) the passkey, after an activation it shows it again.
async function signalAccepted(root) {
  const { rpId, webauthnUserId: userId, credentialsApiUrl } = root.dataset;
  if (!credentialsApiUrl || typeof PublicKeyCredential?.signalAllAcceptedCredentials !== 'function') return;
  const { items } = await requestJSON('GET', credentialsApiUrl);
  const allAcceptedCredentialIds = items.filter((c) => c.kind === 'Fido2' && c.isActive).map((c) => c.credentialId);
  await signalCall('signalAllAcceptedCredentials', { rpId, userId, allAcceptedCredentialIds });
}

// signalAfter sends what a button's data-signal names once its change is
// done: "credentials" (the caller's accepted passkeys) or "user:<id>" (a
// user who can no longer sign in, so none of their passkeys is accepted).
async function signalAfter(root, what) {
  if (what === 'credentials') return signalAccepted(root);
  if (what?.startsWith('user:')) {
    return signalCall('signalAllAcceptedCredentials', {
      rpId: root.dataset.rpId,
      userId: what.slice('user:'.length),
      allAcceptedCredentialIds: [],
    });
  }
  return undefined;
}

// forgetOrphan tells the browser that a passkey its authenticator has just
// created is unknown here: the person cancelled, or the change failed, so
// it was never added and could never sign in. It returns the sentence that
// says truthfully what happened to it.
async function forgetOrphan(root, credentialId) {
  const told = await signalCall('signalUnknownCredential', { rpId: root.dataset.rpId, credentialId });
  return told ? consoleText.orphanSignalled : consoleText.orphanLeft;
}

// register creates the invited user's passkey and signs them in.
async function register(root, button) {
  const { orgId, username, code, initUrl, finishUrl, providersUrl } = root.dataset;
  setBusy(button, true, 'Waiting for your passkey…');
  say(root, messages.prompt);
  try {
    const ch = await postJSON(initUrl, { orgId, username, registrationCode: code });
    const credential = await navigator.credentials.create({ publicKey: creationOptions(ch) });
    say(root, messages.saving);
    const json = credentialJSON(credential);
    const body = registrationBody(json, await passkeyName(credential, json, providersUrl));
    const recovery = root.querySelector('[data-recovery-option]')?.checked ? await newRecoveryCredential(ch) : null;
    if (recovery) body.recoveryCredential = recovery.credential;
    const done = await postJSON(finishUrl, body, { token: ch.temporaryAuthenticationToken });
    await signalSignedIn(done.signal);
    if (recovery) await showSavedRecoveryCode(root, recovery.code);
    follow(done.next);
  } catch (err) {
    fail(root, button, err);
  }
}

// signIn runs one login ceremony and returns the server's answer. With a
// username the server lists that user's credentials; without one any
// passkey of this site may answer. onCredential runs once the authenticator
// has answered, before the server checks it.
async function signIn(form, { username, mediation, signal, onCredential }) {
  const { orgId, initUrl, finishUrl } = form.dataset;
  const ch = await postJSON(initUrl, username ? { orgId, username } : { orgId }, { signal });
  const credential = await navigator.credentials.get({
    publicKey: requestOptions(ch),
    mediation,
    signal,
  });
  onCredential();
  return postJSON(finishUrl, signedChallenge(ch, credentialJSON(credential)), { signal });
}

// offerAutofill starts a conditional request, so the browser lists this
// site's passkeys in the username field's autofill. It stays pending until
// the user picks one, or until the button aborts it.
async function offerAutofill(form, button, login) {
  if (!(await PublicKeyCredential.isConditionalMediationAvailable?.())) return;
  login.autofill = new AbortController();
  const onCredential = () => {
    setBusy(button, true, 'Signing in…');
    say(form, messages.checking);
  };
  try {
    const done = await signIn(form, { mediation: 'conditional', signal: login.autofill.signal, onCredential });
    await signalSignedIn(done.signal);
    follow(done.next);
  } catch (err) {
    // Nobody asked for this request: a cancelled one stays quiet.
    if (err.name === 'AbortError' || err.name === 'NotAllowedError') return;
    fail(form, button, err);
  }
}

// signInWithButton replaces any autofill request with a modal one, named
// by the username field when it is filled in.
async function signInWithButton(form, button, login) {
  login.autofill?.abort();
  login.autofill = null;
  const username = form.elements.username.value.trim();
  setBusy(button, true, 'Waiting for your passkey…');
  say(form, messages.prompt);
  try {
    const done = await signIn(form, { username, onCredential: () => say(form, messages.checking) });
    await signalSignedIn(done.signal);
    follow(done.next);
  } catch (err) {
    fail(form, button, err);
  }
}

function initRegister(root) {
  const button = root.querySelector('[data-action="register"]');
  button.addEventListener('click', () => register(root, button));
}

function initLogin(form) {
  const button = form.querySelector('button[type="submit"]');
  const login = { autofill: null };
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    signInWithButton(form, button, login);
  });
  offerAutofill(form, button, login);
}

// ---------------------------------------------------------------------------
// User Action Signing (spec §5.1): what @dfns/sdk's userActionFetch does for
// every request that changes state, with one step added before the passkey
// prompt: the person sees what they are about to approve.

// Cancelled is the person's "no" in the approve dialog.
class Cancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'Cancelled';
  }
}

// signedRequest sends method path with body (an object, or undefined for no
// body) under User Action Signing: the exact payload string is signed at
// /auth/action/init, shown, approved with a passkey at /auth/action, then
// sent unchanged with the one-time X-DFNS-USERACTION token. It returns the
// API's answer and the server's summary of the request.
async function signedRequest(root, { method, path, body }) {
  const payload = body === undefined ? '' : JSON.stringify(body);
  const challenge = await postJSON(root.dataset.actionInitUrl, {
    userActionPayload: payload,
    userActionHttpMethod: method,
    userActionHttpPath: path,
    userActionServerKind: 'Api',
  });
  const summary = challenge.summary || `${method} ${path}`;
  await confirmAction(root, { method, path, summary, payload, destructive: challenge.destructive });
  const assertion = await approveWithPasskey(root, challenge);
  const { userAction } = await postJSON(root.dataset.actionUrl, assertion);
  try {
    const data = await requestJSON(method, path, {
      body: payload === '' ? undefined : payload,
      headers: { 'X-DFNS-USERACTION': userAction },
    });
    return { data, summary };
  } catch (err) {
    err.approved = true; // the approval was accepted; the request itself failed
    throw err;
  }
}

// confirmAction shows the request in the approve dialog, the body exactly
// as it will be signed (pretty-printed), and resolves when the person
// approves; Cancel or Escape rejects with Cancelled. A destructive request
// (the server says so) is styled as one.
function confirmAction(root, { method, path, summary, payload, destructive }) {
  const dialog = root.querySelector('[data-approve]');
  dialog.querySelector('[data-approve-summary]').textContent = summary;
  dialog.querySelector('[data-approve-method]').textContent = method;
  dialog.querySelector('[data-approve-path]').textContent = path;
  dialog.querySelector('[data-approve-body]').textContent = prettyBody(payload);
  dialog.querySelector('[data-approve-exact]').open = false;
  dialog.querySelector('[data-approve-eyebrow]').textContent = destructive
    ? 'Approval needed: this takes something away'
    : 'Approval needed';
  const button = dialog.querySelector('[data-approve-button]');
  button.classList.toggle('button-danger', Boolean(destructive));
  button.classList.toggle('button-primary', !destructive);
  dialog.toggleAttribute('data-destructive', Boolean(destructive));
  // The least harmful choice has the focus: Cancel when this takes
  // something away, Approve otherwise.
  const cancel = dialog.querySelector('[value="cancel"]');
  button.autofocus = !destructive;
  cancel.autofocus = Boolean(destructive);
  dialog.returnValue = '';
  return new Promise((resolve, reject) => {
    dialog.addEventListener(
      'close',
      () => (dialog.returnValue === 'approve' ? resolve() : reject(new Cancelled())),
      { once: true },
    );
    dialog.showModal();
  });
}

// prettyBody is a request body for reading: the JSON indented, or a note
// that there is none. The passkey signs the compact text sent, not this.
function prettyBody(payload) {
  if (payload === '') return '(no body)';
  try {
    return JSON.stringify(JSON.parse(payload), null, 2);
  } catch {
    return payload;
  }
}

// approveWithPasskey signs the action challenge with one of the caller's
// passkeys and returns the SignedChallenge for /auth/action.
async function approveWithPasskey(root, challenge) {
  if (!challenge.allowCredentials?.webauthn?.length) {
    throw new APIError('no_passkey', consoleText.noPasskey);
  }
  say(root, consoleText.approve);
  const credential = await navigator.credentials.get({ publicKey: requestOptions(challenge) });
  say(root, consoleText.approving);
  return signedChallenge(challenge, credentialJSON(credential));
}

// describeAction turns a failed console request into a sentence.
function describeAction(err) {
  const key = err.name === 'APIError' ? err.code : err.name;
  if (key === 'permission_denied') {
    const op = /operation \(?([A-Za-z:]+)\)?/.exec(err.message)?.[1];
    return op
      ? `You don't hold the permission this needs (${op}), so nothing was changed. Ask an administrator.`
      : "You don't hold the permission this needs, so nothing was changed. Ask an administrator.";
  }
  if (key === 'authentication_failed' && err.approved) {
    // Past the approval, only a new credential's own signature is checked.
    return consoleMessages.attestation_failed;
  }
  return consoleMessages[key] ?? describe(err);
}

// ---------------------------------------------------------------------------
// Keys made in the browser with WebCrypto: ECDSA P-256, the public key as
// SPKI PEM and the private key as PKCS #8 PEM, as @dfns/sdk-keysigner reads
// them.

// generateKey makes an extractable P-256 key pair.
async function generateKey() {
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
    'sign',
    'verify',
  ]);
  const [spki, pkcs8] = await Promise.all([
    crypto.subtle.exportKey('spki', pair.publicKey),
    crypto.subtle.exportKey('pkcs8', pair.privateKey),
  ]);
  return {
    privateKey: pair.privateKey,
    publicKeyPem: pem('PUBLIC KEY', spki),
    privateKeyPem: pem('PRIVATE KEY', pkcs8),
  };
}

// pem armours DER bytes in 64-character lines, without a final newline
// (as the Dfns browser key signer writes it).
function pem(label, der) {
  const b64 = btoa(String.fromCharCode(...new Uint8Array(der)));
  return [`-----BEGIN ${label}-----`, ...b64.match(/.{1,64}/g), `-----END ${label}-----`].join('\n');
}

// hex is lowercase hexadecimal of bytes.
function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

// derSignature turns WebCrypto's raw r||s ECDSA signature into ASN.1 DER
// SEQUENCE { INTEGER r, INTEGER s }, what Dfns expects (spec §2.3).
function derSignature(raw) {
  const bytes = new Uint8Array(raw);
  const integer = (b) => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    const v = b.slice(i);
    return v[0] & 0x80 ? [0x02, v.length + 1, 0, ...v] : [0x02, v.length, ...v];
  };
  const half = bytes.length / 2;
  const seq = [...integer(bytes.slice(0, half)), ...integer(bytes.slice(half))];
  return new Uint8Array([0x30, seq.length, ...seq]);
}

// keyAttestation is credentialInfo of a new Key credential: the private key
// signs the fingerprint of the credential challenge exactly as spec §2.4
// (and BrowserKeySigner.create) builds it.
async function keyAttestation(key, challenge, credId) {
  const utf8 = (text) => new TextEncoder().encode(text);
  const clientData = utf8(JSON.stringify({ type: 'key.create', challenge }));
  const clientDataHash = hex(await crypto.subtle.digest('SHA-256', clientData));
  const fingerprint = JSON.stringify({ clientDataHash, publicKey: key.publicKeyPem });
  const raw = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key.privateKey, utf8(fingerprint));
  const attestation = { publicKey: key.publicKeyPem, signature: hex(derSignature(raw)) };
  return {
    credId,
    clientData: base64url(clientData),
    attestationData: base64url(utf8(JSON.stringify(attestation))),
  };
}

// ---------------------------------------------------------------------------
// Console actions. Each returns the sentence to show when it succeeded.

function done(summary) {
  return `Done: ${summary}.`;
}

// signButton sends the request a row's button names (data-sign-*).
async function signButton(root, button) {
  const { signMethod: method, signPath: path, signBody, signal, revealInto } = button.dataset;
  const body = signBody ? JSON.parse(signBody) : undefined;
  const { data, summary } = await signedRequest(root, { method, path, body });
  await signalAfter(root, signal);
  await refreshLists(root);
  if (revealInto) reveal(root.querySelector(`[data-secret-panel][data-testid="${revealInto}"]`), data);
  return done(summary) + resetLinkNote(data);
}

// formBody is the form's base body (data-sign-body) completed by its named
// fields: checkboxes of one name make a list, number fields numbers; empty
// fields and fields marked data-ignore are left out.
function formBody(form) {
  const body = form.dataset.signBody ? JSON.parse(form.dataset.signBody) : {};
  for (const el of form.elements) {
    if (!el.name || el.disabled || 'ignore' in el.dataset) continue;
    if (el.type === 'checkbox') {
      body[el.name] ??= [];
      if (el.checked) body[el.name].push(el.value);
      continue;
    }
    const value = el.value.trim();
    if (value !== '') body[el.name] = el.type === 'number' ? Number(value) : value;
  }
  return body;
}

// submitSignedForm sends the form's request; a form marked data-reveal
// then shows what the answer carries once (an invitation link).
async function submitSignedForm(root, form) {
  const { signMethod: method, signPath: path } = form.dataset;
  const { data, summary } = await signedRequest(root, { method, path, body: formBody(form) });
  if ('reveal' in form.dataset) reveal(secretPanelOf(form), data);
  form.reset();
  await refreshLists(root);
  return done(summary);
}

// addCredential adds a passkey (on this device or a security key) or a key
// generated in this browser, as the pressed button says. A passkey exists
// on its authenticator before the approval: if the approval or the request
// then fails, the browser is told to forget it (forgetOrphan).
async function addCredential(root, form, button) {
  const choice = button.value;
  const typed = form.elements.credentialName.value.trim();
  const { initUrl, createUrl, providersUrl } = form.dataset;
  const add = choice === 'key' ? newKeyCredential : newPasskeyCredential;
  const { body, secrets, credentialId } = await add(root, initUrl, { typed, choice, providersUrl });
  let summary;
  try {
    ({ summary } = await signedRequest(root, { method: 'POST', path: createUrl, body }));
  } catch (err) {
    // Only a refusal is certain to have added nothing (a failed request
    // changes nothing); after a lost answer the passkey may have been
    // added, and telling the browser to forget it would break it.
    if (credentialId && err.code === 'network') err.orphan = consoleText.orphanUnknown;
    else if (credentialId) err.orphan = await forgetOrphan(root, credentialId);
    throw err;
  }
  if (secrets) reveal(secretPanelOf(form), secrets);
  form.reset();
  await refreshLists(root);
  return done(summary);
}

// newPasskeyCredential creates a passkey on an authenticator of the given
// attachment for the credential challenge, and returns the request body
// that adds it (spec §4.3), named as typed or after its provider.
async function newPasskeyCredential(root, initUrl, { typed, choice, providersUrl }) {
  const ch = await postJSON(initUrl, { kind: 'Fido2' });
  say(root, consoleText.create);
  const options = creationOptions({
    ...ch,
    authenticatorSelection: { ...ch.authenticatorSelection, authenticatorAttachment: choice },
  });
  const credential = await navigator.credentials.create({ publicKey: options });
  const json = credentialJSON(credential);
  const body = {
    credentialKind: 'Fido2',
    credentialName: typed || (await passkeyName(credential, json, providersUrl)),
    challengeIdentifier: ch.challengeIdentifier,
    credentialInfo: {
      credId: json.id,
      clientData: json.response.clientDataJSON,
      attestationData: json.response.attestationObject,
      transports: json.response.transports ?? [],
    },
  };
  return { body, credentialId: json.id };
}

// newKeyCredential generates a key pair whose private key attests the
// credential challenge; the private key is shown once, never stored.
async function newKeyCredential(root, initUrl, { typed }) {
  const name = typed || 'Key';
  const ch = await postJSON(initUrl, { kind: 'Key' });
  say(root, consoleText.generating);
  const key = await generateKey();
  const credId = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const credentialInfo = await keyAttestation(key, ch.challenge, credId);
  const body = { credentialKind: 'Key', credentialName: name, challengeIdentifier: ch.challengeIdentifier, credentialInfo };
  return { body, secrets: { credId, privateKey: key.privateKeyPem } };
}

// ownKeys holds, per form, the credential challenge a pasted public key is
// being attested for: prepared by one submit, finished by the next.
const ownKeys = new WeakMap();

// ownKey adds a Key credential whose private key stays with the person:
// "prepare" fetches a credential challenge and shows the fingerprint to sign
// (spec §2.4) with an openssl command; "add" sends the pasted signature.
async function ownKey(root, form, button) {
  if (button.value === 'prepare') return prepareOwnKey(form);
  const prepared = ownKeys.get(form);
  const signature = form.elements.signature.value.trim().toLowerCase();
  if (!prepared || !/^([0-9a-f]{2})+$/.test(signature)) throw new APIError('invalid_request', consoleText.signature);
  const attestation = { publicKey: prepared.publicKey, signature };
  const body = {
    credentialKind: 'Key',
    credentialName: form.elements.credentialName.value.trim() || 'Key',
    challengeIdentifier: prepared.challengeIdentifier,
    credentialInfo: {
      credId: base64url(crypto.getRandomValues(new Uint8Array(32))),
      clientData: prepared.clientData,
      attestationData: base64url(new TextEncoder().encode(JSON.stringify(attestation))),
    },
  };
  const { summary } = await signedRequest(root, { method: 'POST', path: form.dataset.createUrl, body });
  ownKeys.delete(form);
  form.reset();
  form.querySelector('[data-own-key-sign]').hidden = true;
  await refreshLists(root);
  return done(summary);
}

// prepareOwnKey shows the text the pasted key must sign. The PEM is used
// exactly as it will be sent (trimmed, LF line ends), since the server
// rebuilds the fingerprint from the attestation's publicKey.
async function prepareOwnKey(form) {
  const publicKey = form.elements.publicKey.value.replace(/\r\n?/g, '\n').trim();
  if (!/^-----BEGIN (RSA )?PUBLIC KEY-----\n[\s\S]+\n-----END (RSA )?PUBLIC KEY-----$/.test(publicKey)) {
    throw new APIError('invalid_request', consoleText.pem);
  }
  const ch = await postJSON(form.dataset.initUrl, { kind: 'Key' });
  const clientData = new TextEncoder().encode(JSON.stringify({ type: 'key.create', challenge: ch.challenge }));
  const clientDataHash = hex(await crypto.subtle.digest('SHA-256', clientData));
  const fingerprint = JSON.stringify({ clientDataHash, publicKey });
  ownKeys.set(form, { publicKey, challengeIdentifier: ch.challengeIdentifier, clientData: base64url(clientData) });
  const section = form.querySelector('[data-own-key-sign]');
  section.querySelector('[data-slot="fingerprint"]').textContent = fingerprint;
  section.querySelector('[data-slot="command"]').textContent =
    `printf '%s' '${fingerprint}' | openssl dgst -sha256 -sign key.pem | xxd -p -c 256`;
  section.hidden = false;
  form.elements.signature.focus();
  return consoleText.signNow;
}

// createToken creates a personal access token or a service account with a
// key pair generated here or a pasted public key, then shows the token,
// its credential id and the private key once.
async function createToken(root, form) {
  const { signMethod: method, signPath: path } = form.dataset;
  const body = formBody(form);
  let privateKey;
  if (form.elements.keySource.value === 'generate') {
    say(root, consoleText.generating);
    const key = await generateKey();
    body.publicKey = key.publicKeyPem;
    privateKey = key.privateKeyPem;
  } else if (!body.publicKey) {
    throw new APIError('invalid_request', consoleText.pasteKey);
  }
  const { data, summary } = await signedRequest(root, { method, path, body });
  const token = data.accessTokens?.[0] ?? data; // a service account, or a PAT
  reveal(secretPanelOf(form), { accessToken: token.accessToken, credId: token.credId, privateKey });
  form.reset();
  showKeySource(form);
  showScope(form);
  await refreshLists(root);
  return done(summary);
}

// ---------------------------------------------------------------------------
// Console page helpers.

// secretPanelOf is the secret panel of a form's section.
function secretPanelOf(form) {
  return form.closest('section').querySelector('[data-secret-panel]');
}

// reveal fills a secret panel (values by data-slot) and shows it; values
// absent from the answer keep their rows hidden.
function reveal(panel, values) {
  if (!panel) return;
  for (const item of panel.querySelectorAll('[data-secret-item]')) {
    const value = values[item.dataset.secretItem] ?? '';
    item.querySelector('[data-slot]').textContent = value;
    item.hidden = value === '';
  }
  panel.hidden = false;
  panel.focus({ preventScroll: true });
  panel.scrollIntoView({ block: 'start' });
}

// refreshLists re-reads the page and swaps in its lists (data-refresh), so
// a change shows at once without losing what the page reveals.
async function refreshLists(root) {
  const res = await fetch(location.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
  if (!res.ok) return;
  const fresh = new DOMParser().parseFromString(await res.text(), 'text/html');
  for (const list of root.querySelectorAll('[data-refresh]')) {
    const next = fresh.getElementById(list.id);
    if (next) list.replaceWith(document.importNode(next, true));
  }
  localTimes(root);
}

// toggle shows or hides the element a button controls (an inline form).
function toggle(button) {
  const target = document.getElementById(button.dataset.toggle);
  target.hidden = !target.hidden;
  button.setAttribute('aria-expanded', String(!target.hidden));
  if (!target.hidden) target.querySelector('input')?.select();
}

// showScope enables the permission list of a new token only when the
// person limits the token to one permission, so formBody sends
// permissionId for that choice alone.
function showScope(form) {
  const field = form.querySelector('[data-scope-permission]');
  if (!field) return;
  const limited = form.elements.scope.value === 'permission';
  field.hidden = !limited;
  field.querySelector('select').disabled = !limited;
}

// showKeySource shows the public-key field only when the person pastes one.
function showKeySource(form) {
  const field = form.querySelector('[data-paste-key]');
  if (field) field.hidden = form.elements.keySource.value !== 'paste';
}

// secretText is the value of a secret panel's slot.
function secretText(button, slot) {
  return button.closest('[data-secret-panel]').querySelector(`[data-slot="${slot}"]`).textContent;
}

async function copySecret(root, button) {
  try {
    await navigator.clipboard.writeText(secretText(button, button.dataset.copy));
    say(root, consoleText.copied);
  } catch {
    say(root, consoleText.copyByHand);
  }
}

// downloadSecret saves a PEM key as a file; nothing leaves the browser.
function downloadSecret(button) {
  const text = `${secretText(button, button.dataset.download)}\n`;
  const url = URL.createObjectURL(new Blob([text], { type: 'application/x-pem-file' }));
  const link = Object.assign(document.createElement('a'), { href: url, download: 'countersign-private-key.pem' });
  link.click();
  URL.revokeObjectURL(url);
}

// runAction runs one console action from button: the page is busy (other
// actions wait) until it ends, then it says how it went, and focus goes
// back to the button (or, when its list was redrawn, to the same button or
// row in the new list).
async function runAction(root, button, action) {
  if (root.dataset.busy) return;
  root.dataset.busy = 'true';
  const back = focusPlace(button);
  setBusy(button, true, 'Working…');
  say(root, consoleText.preparing);
  try {
    say(root, await action(), 'success');
  } catch (err) {
    const orphan = err.orphan ? ` ${err.orphan}` : '';
    if (err.name === 'Cancelled') say(root, (err.orphan ? consoleText.cancelledNothingAdded : consoleText.cancelled) + orphan);
    else if (err.name === 'AbortError') say(root, '');
    else if (err.code === 'unauthorized') sessionOver(root, consoleText.sessionEnded);
    else say(root, describeAction(err) + orphan, 'error');
  } finally {
    delete root.dataset.busy;
    setBusy(button, false);
    restoreFocus(back);
  }
}

// focusPlace remembers where focus should come back to after an action.
function focusPlace(button) {
  return { id: button.id, row: button.closest('[id][tabindex="-1"]')?.id };
}

// restoreFocus puts focus back when the action lost it (its button was
// redrawn or removed): on the same button, else on its row.
function restoreFocus({ id, row }) {
  const active = document.activeElement;
  const lost = !active || active === document.body || !active.isConnected || active.closest('dialog:not([open])');
  if (!lost) return;
  const again = id && document.getElementById(id);
  if (again && !again.disabled) {
    again.focus();
    return;
  }
  document.getElementById(row)?.focus();
}

// upstreamRequest sends a request to a service behind the gateway as its
// form gives it: a read at once, a change (data-signed) once approved with
// a passkey like every console action; the service's answer is shown.
async function upstreamRequest(root, form) {
  const method = form.dataset.method;
  const path = form.elements.path.value.trim();
  let body;
  if ('signed' in form.dataset) {
    try {
      body = form.elements.body.value.trim() === '' ? undefined : JSON.parse(form.elements.body.value);
    } catch {
      throw new Error('The body is not JSON.');
    }
  }
  const answer = form.querySelector('[data-service-answer]');
  answer.hidden = true;
  let data;
  let summary = `${method} ${path}`;
  if ('signed' in form.dataset) {
    ({ data, summary } = await signedRequest(root, { method, path, body }));
  } else {
    data = await requestJSON(method, path);
  }
  answer.querySelector('[data-service-status]').textContent = `${summary}: the service answered`;
  answer.querySelector('[data-service-body]').textContent = JSON.stringify(data, null, 2);
  answer.hidden = false;
  return done(summary);
}

// formActions are the forms that do more than send their fields.
const formActions = {
  'add-credential': addCredential,
  'create-token': createToken,
  'create-service-account': createToken,
  'own-key': ownKey,
  'upstream-request': upstreamRequest,
  'recovery-code': createRecoveryCode,
  'credential-code': createCredentialCodeLink,
};

// ---------------------------------------------------------------------------
// The session: a warning a few minutes before it ends, then a sign-in that
// comes back to this page; other tabs of this browser hear of a sign-out.

const SESSION_WARNING_MS = 5 * 60_000;
const sessionChannel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('countersign-session') : null;

// at runs fn at time t (ms since the epoch), now if t has passed.
function at(t, fn) {
  const wait = t - Date.now();
  if (wait <= 0) fn();
  else setTimeout(fn, Math.min(wait, 2 ** 31 - 1));
}

// showSession shows the session banner with text.
function showSession(root, text, ended) {
  const banner = root.querySelector('[data-session-banner]');
  if (!banner || banner.dataset.ended) return;
  banner.querySelector('[data-session-text]').textContent = text;
  banner.hidden = false;
  if (ended) {
    banner.dataset.ended = 'true';
    say(root, '');
    banner.querySelector('[data-session-sign-in]').focus();
  }
}

// sessionOver says the session has ended, and how to come back.
function sessionOver(root, text) {
  showSession(root, text, true);
}

function initSession(root) {
  const ends = Date.parse(root.dataset.sessionEnds ?? '');
  if (!Number.isNaN(ends)) {
    const time = new Date(ends).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    at(ends - SESSION_WARNING_MS, () => showSession(root, consoleText.sessionEnding(time), false));
    at(ends, () => sessionOver(root, consoleText.sessionEnded));
  }
  sessionChannel?.addEventListener('message', (event) => {
    if (event.data === 'signed-out') sessionOver(root, consoleText.signedOutElsewhere);
  });
  for (const form of document.querySelectorAll('[data-logout]')) {
    form.addEventListener('submit', () => sessionChannel?.postMessage('signed-out'));
  }
}

// ---------------------------------------------------------------------------
// Times: the server writes UTC; the page shows them in the person's own
// time zone, relative ("5 minutes ago") with the exact time on hover.

const relative = typeof Intl.RelativeTimeFormat === 'function' ? new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' }) : null;

// ago says how long ago (or ahead) t is, in the largest fitting unit.
function ago(t) {
  const seconds = Math.round((t - Date.now()) / 1000);
  const units = [
    ['year', 31_536_000],
    ['month', 2_592_000],
    ['day', 86_400],
    ['hour', 3_600],
    ['minute', 60],
  ];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size) return relative.format(Math.round(seconds / size), unit);
  }
  return relative.format(seconds, 'second');
}

// localTimes rewrites every <time data-local> under root.
function localTimes(root) {
  for (const el of root.querySelectorAll('time[data-local]')) {
    const t = Date.parse(el.dateTime);
    if (Number.isNaN(t)) continue;
    const exact = new Date(t).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'long' });
    el.title = exact;
    el.textContent = relative ? ago(t) : exact;
  }
}

function initConsole(root) {
  initSession(root);
  localTimes(root);
  root.addEventListener('click', (event) => {
    const button = event.target.closest('button');
    if (!button || button.type === 'submit') return;
    const { signMethod, toggle: controls, copy, download } = button.dataset;
    if (signMethod) runAction(root, button, () => signButton(root, button));
    else if (controls) toggle(button);
    else if (copy) copySecret(root, button);
    else if (download) downloadSecret(button);
  });
  root.addEventListener('submit', (event) => {
    const form = event.target;
    if (form.method === 'dialog') return; // the approve dialog closes itself
    if ('activityFilter' in form.dataset) {
      // A plain GET: the server reads the dates in the browser's time zone.
      form.elements.tz.value = String(-new Date().getTimezoneOffset());
      return;
    }
    event.preventDefault();
    const button = event.submitter ?? form.querySelector('[type="submit"]');
    const action = formActions[form.dataset.form] ?? submitSignedForm;
    runAction(root, button, () => action(root, form, button));
  });
  root.addEventListener('change', (event) => {
    if (event.target.name === 'keySource') showKeySource(event.target.form);
    if (event.target.name === 'scope') showScope(event.target.form);
  });
}

// ---------------------------------------------------------------------------
// Recovery (issue 10): recovery codes, the /recover page, and passkeys
// added on another device with a credential code.
//
// A recovery code is 25 characters of Crockford's base32 (125 random bits)
// that the person writes down. The browser makes a P-256 key pair, the
// recovery key, registers its public key (a RecoveryKey credential, spec
// §4.8) and sends only the private key encrypted under the code; the
// server never sees the code. The format, also in the README:
//   credId              = base64url(HKDF-SHA256(code, salt = "", info =
//                         "countersign recovery credential id v1", 32 bytes))
//   encryptedPrivateKey = JSON {"v":1, "kdf":"HKDF-SHA256", "cipher":"AES-256-GCM",
//                         "salt", "iv", "data"} (base64url), where the AES key is
//                         HKDF-SHA256(code, salt, info = "countersign recovery key v1"),
//                         data = AES-GCM(PKCS #8 DER of the private key,
//                         additional data = UTF-8 of credId)
// and code is the normalised code: upper case, no separators, I and L as 1,
// O as 0.

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const RECOVERY_KEY_INFO = 'countersign recovery key v1';
const RECOVERY_ID_INFO = 'countersign recovery credential id v1';

const recoveryText = {
  codeSent: 'If this account can be recovered, a verification code is on its way to its e-mail address.',
  needUsername: 'Enter your username first.',
  needCodes: 'Enter the verification code from the e-mail and your recovery code.',
  wrongRecoveryCode: "That recovery code doesn't open the recovery key of this account. Check it and try again.",
  recovering: 'Follow the prompt to create your new passkey.',
  saving: 'Saving your new passkey…',
  added: 'Passkey added. Signing in…',
};

// utf8 is the UTF-8 bytes of text.
function utf8(text) {
  return new TextEncoder().encode(text);
}

// newRecoveryCode is 25 random characters in five groups of five.
function newRecoveryCode() {
  const raw = crypto.getRandomValues(new Uint8Array(25));
  const chars = Array.from(raw, (b) => CROCKFORD[b & 31]).join('');
  return chars.match(/.{5}/g).join('-');
}

// normalizeCode reads a typed code back as Crockford's base32 says.
function normalizeCode(text) {
  return text.toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
}

async function hkdf(code, salt, info) {
  const ikm = await crypto.subtle.importKey('raw', utf8(code), 'HKDF', false, ['deriveBits', 'deriveKey']);
  return { ikm, params: { name: 'HKDF', hash: 'SHA-256', salt, info: utf8(info) } };
}

// recoveryCredId is the credential id of the recovery key of a code.
async function recoveryCredId(code) {
  const { ikm, params } = await hkdf(code, new Uint8Array(0), RECOVERY_ID_INFO);
  return base64url(await crypto.subtle.deriveBits(params, ikm, 256));
}

async function recoveryAESKey(code, salt) {
  const { ikm, params } = await hkdf(code, salt, RECOVERY_KEY_INFO);
  return crypto.subtle.deriveKey(params, ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

async function encryptRecoveryKey(code, pkcs8, credId) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await recoveryAESKey(code, salt);
  const data = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: utf8(credId) }, key, pkcs8);
  return JSON.stringify({
    v: 1, kdf: 'HKDF-SHA256', cipher: 'AES-256-GCM', salt: base64url(salt), iv: base64url(iv), data: base64url(data),
  });
}

// decryptRecoveryKey opens an encryptedPrivateKey with the code, or throws
// an APIError saying the code is wrong.
async function decryptRecoveryKey(code, encrypted, credId) {
  try {
    const box = JSON.parse(encrypted);
    if (box.v !== 1) throw new Error(`unknown recovery key format ${box.v}`);
    const key = await recoveryAESKey(code, base64url(box.salt));
    const pkcs8 = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: base64url(box.iv), additionalData: utf8(credId) }, key, base64url(box.data));
    return await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  } catch (err) {
    console.error(err);
    throw new APIError('invalid_recovery_credential', recoveryText.wrongRecoveryCode);
  }
}

// newRecoveryCredential makes a recovery code and its recovery key, which
// attests challenge ch (a registration, recovery or credential challenge),
// and returns the code and the NewCredential (spec §3) to send.
async function newRecoveryCredential(ch) {
  const code = newRecoveryCode();
  const normal = normalizeCode(code);
  const pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
  const [spki, pkcs8] = await Promise.all([
    crypto.subtle.exportKey('spki', pair.publicKey),
    crypto.subtle.exportKey('pkcs8', pair.privateKey),
  ]);
  const credId = await recoveryCredId(normal);
  const key = { privateKey: pair.privateKey, publicKeyPem: pem('PUBLIC KEY', spki) };
  const credential = {
    credentialKind: 'RecoveryKey',
    credentialName: 'Recovery code',
    credentialInfo: await keyAttestation(key, ch.challenge, credId),
    encryptedPrivateKey: await encryptRecoveryKey(normal, pkcs8, credId),
  };
  return { code, credential };
}

// showSavedRecoveryCode shows a recovery code made with a new account or a
// recovery, and resolves once the person says they saved it.
function showSavedRecoveryCode(root, code) {
  const panel = root.querySelector('[data-recovery-reveal]');
  panel.querySelector('[data-slot="recoveryCode"]').textContent = code;
  panel.hidden = false;
  say(root, '');
  panel.focus({ preventScroll: true });
  return new Promise((resolve) => {
    panel.querySelector('[data-action="continue"]').addEventListener('click', resolve, { once: true });
  });
}

// createRecoveryCode (Credentials) makes a recovery code and adds its
// recovery key, which replaces any earlier one, under User Action Signing.
async function createRecoveryCode(root, form) {
  const ch = await postJSON(form.dataset.initUrl, { kind: 'RecoveryKey' });
  say(root, consoleText.generating);
  const { code, credential } = await newRecoveryCredential(ch);
  const body = { ...credential, challengeIdentifier: ch.challengeIdentifier };
  const { summary } = await signedRequest(root, { method: 'POST', path: form.dataset.createUrl, body });
  reveal(secretPanelOf(form), { recoveryCode: code });
  await refreshLists(root);
  return done(summary);
}

// createCredentialCodeLink (Credentials) makes a credential code and shows
// its link with the QR code the server draws of it.
async function createCredentialCodeLink(root, form) {
  const { codeUrl, qrUrl, addUrl, ttl } = form.dataset;
  const expiration = new Date(Date.now() + Math.max(Number(ttl) - 30, 30) * 1000).toISOString();
  const { data, summary } = await signedRequest(root, { method: 'POST', path: codeUrl, body: { expiration } });
  const link = `${addUrl}?${new URLSearchParams({ code: data.code })}`;
  const { image } = await postJSON(qrUrl, { text: link });
  const panel = form.querySelector('[data-credential-code]');
  const img = Object.assign(document.createElement('img'), { src: image, alt: 'QR code of the link', width: 220, height: 220 });
  panel.querySelector('[data-slot="qr"]').replaceChildren(img);
  panel.querySelector('[data-slot="link"]').textContent = link;
  panel.querySelector('[data-slot="expires"]').textContent = new Date(data.expiration).toLocaleTimeString();
  panel.hidden = false;
  return done(summary);
}

// newPasskeyForChallenge creates a passkey for a registration-shaped
// challenge and returns its NewCredential.
async function newPasskeyForChallenge(root, ch) {
  say(root, recoveryText.recovering);
  const credential = await navigator.credentials.create({ publicKey: creationOptions(ch) });
  say(root, recoveryText.saving);
  const json = credentialJSON(credential);
  return registrationBody(json, await passkeyName(credential, json, root.dataset.providersUrl)).firstFactorCredential;
}

// recoverySignature is the recovery key's assertion over the new
// credentials (spec §4.8): clientData's challenge is base64url of their
// JSON, signed as a Key credential signs (ECDSA P-256, DER).
async function recoverySignature(key, credId, newCredentials) {
  const challenge = base64url(utf8(JSON.stringify(newCredentials)));
  const clientData = utf8(JSON.stringify({ type: 'key.get', challenge }));
  const raw = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, key, clientData);
  return {
    kind: 'RecoveryKey',
    credentialAssertion: { credId, clientData: base64url(clientData), signature: base64url(derSignature(raw)) },
  };
}

// recoverAccount runs the /recover page: a verification code by e-mail,
// then the recovery code opens the recovery key, which signs the new
// passkey (and a new recovery code); or a reset link's new passkey.
async function recoverAccount(form, button) {
  const { orgId, resetCode, codeUrl, initUrl, finishUrl } = form.dataset;
  const username = form.elements.username?.value.trim();
  if (button.value === 'code') {
    if (!username) throw new APIError('invalid_request', recoveryText.needUsername);
    await postJSON(codeUrl, { username, orgId });
    return recoveryText.codeSent;
  }
  let key, credId, ch;
  if (resetCode) {
    ch = await postJSON(initUrl, { code: resetCode });
  } else {
    const verificationCode = form.elements.verificationCode.value.trim();
    const code = normalizeCode(form.elements.recoveryCode.value);
    if (!username) throw new APIError('invalid_request', recoveryText.needUsername);
    if (!verificationCode || !code) throw new APIError('invalid_request', recoveryText.needCodes);
    credId = await recoveryCredId(code);
    ch = await postJSON(initUrl, { username, verificationCode, orgId, credentialId: credId });
    const allowed = ch.allowedRecoveryCredentials.find((c) => c.id === credId);
    if (!allowed) throw new APIError('invalid_recovery_credential', recoveryText.wrongRecoveryCode);
    key = await decryptRecoveryKey(code, allowed.encryptedRecoveryKey, credId);
  }
  const firstFactorCredential = await newPasskeyForChallenge(form, ch);
  const next = await newRecoveryCredential(ch);
  const newCredentials = { firstFactorCredential, recoveryCredential: next.credential };
  const body = key ? { recovery: await recoverySignature(key, credId, newCredentials), newCredentials } : { newCredentials };
  const signedIn = await postJSON(finishUrl, body, { token: ch.temporaryAuthenticationToken });
  await showSavedRecoveryCode(form, next.code);
  follow(signedIn.next);
  return '';
}

function initRecover(form) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const button = event.submitter ?? form.querySelector('[type="submit"]');
    if (form.dataset.busy) return;
    form.dataset.busy = 'true';
    setBusy(button, true, 'Working…');
    try {
      const text = await recoverAccount(form, button);
      setBusy(button, false);
      if (text) say(form, text, 'success');
    } catch (err) {
      fail(form, button, err);
    } finally {
      delete form.dataset.busy;
    }
  });
}

// resetLinkNote tells what became of a reset link an administrator just
// issued: e-mailed to the person, or here to hand over.
function resetLinkNote(data) {
  if (data?.resetUrl) return ` Hand this reset link to them over a channel you trust: ${data.resetUrl}`;
  if (data?.emailed) return ' The reset link was e-mailed to them.';
  return '';
}

// addPasskeyHere creates this device's passkey with a credential code and
// signs in.
async function addPasskeyHere(root, button) {
  const { code, initUrl, finishUrl } = root.dataset;
  setBusy(button, true, 'Waiting for your passkey…');
  say(root, messages.prompt);
  try {
    const ch = await postJSON(initUrl, { code, credentialKind: 'Fido2' });
    const credential = await navigator.credentials.create({ publicKey: creationOptions(ch) });
    const json = credentialJSON(credential);
    say(root, recoveryText.added);
    const done = await postJSON(finishUrl, {
      credentialKind: 'Fido2',
      credentialName: await passkeyName(credential, json, root.dataset.providersUrl),
      challengeIdentifier: ch.challengeIdentifier,
      credentialInfo: {
        credId: json.id,
        clientData: json.response.clientDataJSON,
        attestationData: json.response.attestationObject,
        transports: json.response.transports ?? [],
      },
    });
    follow(done.next);
  } catch (err) {
    fail(root, button, err);
  }
}

function initAddPasskey(root) {
  const button = root.querySelector('[data-action="add-passkey"]');
  button.addEventListener('click', () => addPasskeyHere(root, button));
}

// start wires the page up, or explains why passkeys cannot work here.
function start(root) {
  const pages = { register: initRegister, login: initLogin, recover: initRecover, 'add-passkey': initAddPasskey };
  const consolePages = ['console', 'credentials', 'activity', 'sessions', 'tokens', 'service-accounts', 'users', 'permissions', 'services'];
  const page = root?.dataset.page;
  const init = consolePages.includes(page) ? initConsole : pages[page];
  if (!init) return;
  if (!window.PublicKeyCredential) {
    say(root, messages.unsupported, 'error');
    root.querySelectorAll('button').forEach((b) => (b.disabled = true));
    return;
  }
  init(root);
}

start(document.querySelector('[data-page]'));
