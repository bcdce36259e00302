package webauthntest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"sync"
)

// Authenticator data flags (WebAuthn L3 §6.1).
const (
	FlagUP byte = 0x01 // user present
	FlagUV byte = 0x04 // user verified
	FlagBE byte = 0x08 // backup eligible
	FlagBS byte = 0x10 // backup state
	FlagAT byte = 0x40 // attested credential data included
	FlagED byte = 0x80 // extension data included
)

// Authenticator is a software FIDO2 authenticator with ES256 (P-256) keys and
// "none" attestation, together with the browser part that writes
// clientDataJSON. Its fields may be changed between ceremonies; per-ceremony
// Options bend a single output for attack tests. Safe for concurrent use.
type Authenticator struct {
	// RPID is hashed into authenticator data (rpIdHash).
	RPID string
	// Origin is written into clientDataJSON, as a browser would.
	Origin string
	// AAGUID is reported in attested credential data; zero by default, as
	// passkey providers and "none" attestation usually send.
	AAGUID [16]byte
	// Flags are the authenticator data flags of Get; Create adds FlagAT.
	// Default FlagUP|FlagUV.
	Flags byte
	// Counter is the signature counter. Create reports it as is; Get adds
	// CounterStep first. CounterStep 0 models a synced passkey reporting 0.
	Counter     uint32
	CounterStep uint32

	mu    sync.Mutex
	creds []*authCredential // creation order
}

type authCredential struct {
	id         []byte
	key        *ecdsa.PrivateKey
	userHandle []byte
}

// NewAuthenticator returns an authenticator for rpID that acts for a page on
// origin, with UP and UV set and a counter that grows by one per assertion.
func NewAuthenticator(rpID, origin string) *Authenticator {
	return &Authenticator{RPID: rpID, Origin: origin, Flags: FlagUP | FlagUV, CounterStep: 1}
}

// Option changes one output of a single Create or Get, to attack a verifier.
type Option func(*ceremony)

type ceremony struct {
	typ        string
	origin     string
	rpID       string
	challenge  *string
	flags      *byte
	counter    *uint32
	credID     []byte
	userHandle []byte
	corrupt    bool
}

// WithType sets clientDataJSON.type (default "webauthn.create" / "webauthn.get").
func WithType(typ string) Option { return func(c *ceremony) { c.typ = typ } }

// WithOrigin sets clientDataJSON.origin instead of Authenticator.Origin.
func WithOrigin(origin string) Option { return func(c *ceremony) { c.origin = origin } }

// WithRPID hashes rpID into authenticator data instead of Authenticator.RPID.
func WithRPID(rpID string) Option { return func(c *ceremony) { c.rpID = rpID } }

// WithClientDataChallenge writes challenge verbatim into clientDataJSON instead
// of base64url(challengeBytes); the signature still covers the result.
func WithClientDataChallenge(challenge string) Option {
	return func(c *ceremony) { c.challenge = &challenge }
}

// WithFlags sets the authenticator data flags byte exactly (Create adds no FlagAT).
func WithFlags(flags byte) Option { return func(c *ceremony) { c.flags = &flags } }

// WithCounter reports counter for this ceremony, leaving Authenticator.Counter alone.
func WithCounter(counter uint32) Option { return func(c *ceremony) { c.counter = &counter } }

// WithCredential makes Get assert with the credential credID (default: the
// most recently created one).
func WithCredential(credID []byte) Option { return func(c *ceremony) { c.credID = credID } }

// WithUserHandle makes Get return userHandle instead of the stored one.
func WithUserHandle(userHandle []byte) Option {
	return func(c *ceremony) { c.userHandle = userHandle }
}

// WithCorruptSignature makes Get return a well-formed ES256 signature over
// different bytes, so only the cryptographic check can catch it.
func WithCorruptSignature() Option { return func(c *ceremony) { c.corrupt = true } }

func (a *Authenticator) ceremony(typ string, challengeBytes []byte, opts []Option) *ceremony {
	c := &ceremony{typ: typ, origin: a.Origin, rpID: a.RPID}
	for _, opt := range opts {
		opt(c)
	}
	if c.challenge == nil {
		s := base64.RawURLEncoding.EncodeToString(challengeBytes)
		c.challenge = &s
	}
	return c
}

// clientDataJSON is what a browser writes (WebAuthn L3 §5.8.1), in its key order.
func (c *ceremony) clientDataJSON() []byte {
	return mustJSON(struct {
		Type        string `json:"type"`
		Challenge   string `json:"challenge"`
		Origin      string `json:"origin"`
		CrossOrigin bool   `json:"crossOrigin"`
	}{c.typ, *c.challenge, c.origin, false})
}

// authData is rpIdHash || flags || signCount (WebAuthn L3 §6.1).
func (c *ceremony) authData(flags byte, counter uint32) []byte {
	if c.flags != nil {
		flags = *c.flags
	}
	if c.counter != nil {
		counter = *c.counter
	}
	rpIDHash := sha256.Sum256([]byte(c.rpID))
	out := append(rpIDHash[:], flags)
	return binary.BigEndian.AppendUint32(out, counter)
}

// Create makes a new discoverable credential for userHandle, as
// navigator.credentials.create does, and returns its raw id, clientDataJSON and
// a "none" attestation object.
func (a *Authenticator) Create(challengeBytes []byte, userHandle []byte, opts ...Option) (credID, clientDataJSON, attestationObject []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(fmt.Sprintf("webauthntest: generate credential key: %v", err))
	}
	cred := &authCredential{id: randomBytes(32), key: key, userHandle: bytes.Clone(userHandle)}

	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.ceremony("webauthn.create", challengeBytes, opts)
	a.creds = append(a.creds, cred)

	// Attested credential data (WebAuthn L3 §6.5.1): AAGUID, credential id
	// length and id, COSE public key.
	authData := c.authData(a.Flags|FlagAT, a.Counter)
	authData = append(authData, a.AAGUID[:]...)
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(cred.id)))
	authData = append(authData, cred.id...)
	authData = append(authData, coseES256Key(&key.PublicKey)...)

	// {"fmt": "none", "attStmt": {}, "authData": h'…'} in CTAP2 canonical key order.
	att := cborHead(nil, cborMap, 3)
	att = cborAppendText(cborAppendText(att, "fmt"), "none")
	att = cborHead(cborAppendText(att, "attStmt"), cborMap, 0)
	att = cborAppendBytes(cborAppendText(att, "authData"), authData)
	return bytes.Clone(cred.id), c.clientDataJSON(), att
}

// Get asserts with a credential, as navigator.credentials.get does, and returns
// the raw credential id, clientDataJSON, authenticator data, the ES256 (DER)
// signature over authenticatorData || SHA-256(clientDataJSON), and the user
// handle stored at creation. It panics when no credential matches.
func (a *Authenticator) Get(challengeBytes []byte, opts ...Option) (credID, clientDataJSON, authenticatorData, signature, userHandle []byte) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.ceremony("webauthn.get", challengeBytes, opts)
	cred := a.credential(c.credID)
	if cred == nil {
		panic(fmt.Sprintf("webauthntest: no credential %x (created %d)", c.credID, len(a.creds)))
	}
	a.Counter += a.CounterStep

	clientDataJSON = c.clientDataJSON()
	authenticatorData = c.authData(a.Flags, a.Counter)
	clientDataHash := sha256.Sum256(clientDataJSON)
	signed := append(bytes.Clone(authenticatorData), clientDataHash[:]...)
	if c.corrupt {
		signed[len(signed)-1] ^= 0xff
	}
	digest := sha256.Sum256(signed)
	signature, err := ecdsa.SignASN1(rand.Reader, cred.key, digest[:])
	if err != nil {
		panic(fmt.Sprintf("webauthntest: sign assertion: %v", err))
	}
	userHandle = cred.userHandle
	if c.userHandle != nil {
		userHandle = c.userHandle
	}
	return bytes.Clone(cred.id), clientDataJSON, authenticatorData, signature, bytes.Clone(userHandle)
}

// CredentialPublicKey returns the COSE key of credential credID, as a relying
// party stores it after registration, or nil if there is no such credential.
func (a *Authenticator) CredentialPublicKey(credID []byte) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	if credID == nil {
		return nil
	}
	if cred := a.credential(credID); cred != nil {
		return coseES256Key(&cred.key.PublicKey)
	}
	return nil
}

// credential finds credID, or the newest credential when credID is nil.
func (a *Authenticator) credential(credID []byte) *authCredential {
	if credID == nil {
		if len(a.creds) == 0 {
			return nil
		}
		return a.creds[len(a.creds)-1]
	}
	for _, cred := range a.creds {
		if bytes.Equal(cred.id, credID) {
			return cred
		}
	}
	return nil
}

// coseES256Key encodes {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
// (RFC 9053 §7.1.1), keys in CTAP2 canonical order.
func coseES256Key(pub *ecdsa.PublicKey) []byte {
	point, err := pub.Bytes() // 0x04 || x || y
	if err != nil {
		panic(fmt.Sprintf("webauthntest: encode public key: %v", err))
	}
	x, y := point[1:33], point[33:65]
	k := cborHead(nil, cborMap, 5)
	k = cborAppendInt(cborAppendInt(k, 1), 2)
	k = cborAppendInt(cborAppendInt(k, 3), -7)
	k = cborAppendInt(cborAppendInt(k, -1), 1)
	k = cborAppendBytes(cborAppendInt(k, -2), x)
	k = cborAppendBytes(cborAppendInt(k, -3), y)
	return k
}
