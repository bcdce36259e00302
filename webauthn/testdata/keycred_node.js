// Generates keycred_node.json: Key-credential assertions and attestations made
// by real Node.js crypto (spec §2.3, §2.4), so the Go tests check interop offline.
// Run from this directory: node keycred_node.js > keycred_node.json
'use strict'
const crypto = require('crypto')

const b64url = (buf) => Buffer.from(buf).toString('base64url')
const newChallenge = () => b64url(Buffer.from(crypto.randomBytes(32).toString('hex')))

const keys = {
  'P-256': () => crypto.generateKeyPairSync('ec', { namedCurve: 'prime256v1' }),
  'P-384': () => crypto.generateKeyPairSync('ec', { namedCurve: 'secp384r1' }),
  secp256k1: () => crypto.generateKeyPairSync('ec', { namedCurve: 'secp256k1' }),
  Ed25519: () => crypto.generateKeyPairSync('ed25519'),
  RSA: () => crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }),
}

const cases = []

// assertion: what @dfns/sdk-keysigner AsymmetricKeySigner sends.
function assertion(name, pair, opts = {}) {
  const challenge = newChallenge()
  const clientData = Buffer.from(
    opts.clientData ? opts.clientData(challenge) : JSON.stringify({ type: 'key.get', challenge })
  )
  const signOpts = opts.dsaEncoding ? { key: pair.privateKey, dsaEncoding: opts.dsaEncoding } : pair.privateKey
  const signature = crypto.sign(opts.digest, clientData, signOpts)
  cases.push({
    name,
    kind: 'assertion',
    publicKey: pair.publicKey.export({ type: opts.pkcs1 ? 'pkcs1' : 'spki', format: 'pem' }),
    challenge,
    clientData: b64url(clientData),
    signature: b64url(signature),
    algorithm: opts.sentAlgorithm || '',
  })
}

// attestation: the §2.4 recipe (BrowserKeySigner.create), signed by Node.
function attestation(name, pair, opts = {}) {
  const challenge = newChallenge()
  const clientData = opts.clientData
    ? opts.clientData(challenge)
    : JSON.stringify({ type: 'key.create', challenge })
  const hashed = opts.hashedClientData ? opts.hashedClientData(challenge) : clientData
  const publicKey = pair.publicKey.export({ type: 'spki', format: 'pem' })
  const fingerprint = JSON.stringify({
    clientDataHash: crypto.createHash('sha256').update(hashed).digest('hex'),
    publicKey,
  })
  const signature = crypto.sign(undefined, Buffer.from(fingerprint), pair.privateKey).toString('hex')
  cases.push({
    name,
    kind: 'attestation',
    challenge,
    clientData: b64url(Buffer.from(clientData)),
    attestationData: b64url(Buffer.from(JSON.stringify({ publicKey, signature }))),
    publicKey,
  })
}

for (const [kind, gen] of Object.entries(keys)) {
  const pair = gen()
  assertion(`${kind} assertion signed by crypto.sign(undefined)`, pair)
  attestation(`${kind} attestation signed by crypto.sign(undefined)`, pair)
}

const p256 = keys['P-256']()
assertion('P-256 assertion with raw r||s signature', p256, { dsaEncoding: 'ieee-p1363' })
assertion('P-256 assertion with SHA512 named in algorithm', p256, { digest: 'SHA512', sentAlgorithm: 'SHA512' })
assertion('P-256 assertion with SHA512 digest and no algorithm sent', p256, { digest: 'SHA512' })
assertion('P-256 assertion with Go SDK key order', p256, {
  clientData: (challenge) => JSON.stringify({ challenge, crossOrigin: false, type: 'key.get' }),
})
assertion('P-256 assertion with origin like the docs', p256, {
  clientData: (challenge) =>
    JSON.stringify({ type: 'key.get', challenge, origin: 'https://app.example', crossOrigin: false }),
})
attestation('P-256 attestation hashed over sorted clientData', p256, {
  clientData: (challenge) => `{ "type": "key.create", "origin": "https://app.example", "challenge": "${challenge}" }`,
  hashedClientData: (challenge) =>
    JSON.stringify({ challenge, origin: 'https://app.example', type: 'key.create' }),
})
const rsa = keys.RSA()
assertion('RSA assertion with a PKCS#1 public key', rsa, { pkcs1: true })
assertion('RSA assertion with RSA-SHA512 named in algorithm', rsa, { digest: 'RSA-SHA512', sentAlgorithm: 'RSA-SHA512' })

process.stdout.write(JSON.stringify({ generator: `node ${process.version} keycred_node.js`, cases }, null, 2) + '\n')
