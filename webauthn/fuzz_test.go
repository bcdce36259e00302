package webauthn

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"countersign/webauthn/webauthntest"
)

// Fuzz targets for every decoder reachable from the network in this
// package. `go test` runs their seeds; `make fuzz` fuzzes each for a while.

// strictSeeds are the bodies the strict parser must get right: the
// long-s and Kelvin-sign foldings, duplicates, deep nesting, bad UTF-8.
var strictSeeds = []string{
	`{"operations":["Auth:Users:Read"],"operation\u017f":["Auth:Users:Delete"]}`,
	"{\"operations\":1,\"operation\u017f\":2}",
	`{"kind":"Key","\u212aind":"Fido2"}`,
	`{"a":1,"a":2}`, `{"a":{"b":1,"B":2}}`, `[{"x":1,"X":1}]`,
	strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1),
	strings.Repeat("[", 5000),
	`{"a":` + strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat("}", 71),
	"\"\xff\"", `{"a":1} {}`, `{"name":"x","Name":"y"}`, `{"straße":1,"strasse":2}`,
	`{"credentialUuid":"cr-1"}`, `{}`, `[]`, `1`, `"s"`, `null`,
	`{"\u0041":1,"a":2}`, `{"a\"b":1,"A\"B":2}`, `{"\ud800":1,"\ufffd":2}`, `{"a":"\\","b":"\""}`,
	" { \"a\" : [ 1 , -2.5e3 , true ] ,\n\"b\" : { } , \"c\":null } ", `[1,[2,[3,{"k":[]}]]]`, `{"a":1,}`, `[1,]`,
}

// foldedTwice reports whether some object of the JSON text b holds two
// keys that fold together, read with a token walk of its own.
func foldedTwice(t *testing.T, b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // as ParseStrictJSON: a number beyond float64 is still a number
	type frame struct {
		object bool
		keys   map[string]bool
		expect bool // the next string token of an object is a key
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return false
		}
		if err != nil {
			t.Fatalf("accepted JSON does not tokenize: %v", err)
		}
		top := func() *frame {
			if len(stack) == 0 {
				return nil
			}
			return stack[len(stack)-1]
		}
		if f := top(); f != nil && f.object && f.expect {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:len(stack)-1]
				if p := top(); p != nil && p.object {
					p.expect = true
				}
				continue
			}
			k := FoldKey(tok.(string))
			if f.keys[k] {
				return true
			}
			f.keys[k] = true
			f.expect = false
			continue
		}
		switch d, _ := tok.(json.Delim); d {
		case '{':
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, expect: true})
			continue
		case '[':
			stack = append(stack, &frame{})
			continue
		case '}', ']':
			stack = stack[:len(stack)-1]
		}
		if p := top(); p != nil && p.object {
			p.expect = true
		}
	}
}

func depthOf(b []byte) int {
	depth, most := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString && escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case inString && c == '"':
			inString = false
		case inString:
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			most = max(most, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return most
}

func FuzzParseStrictJSON(f *testing.F) {
	for _, s := range strictSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseStrictJSON(b)
		checked := CheckStrictJSON(b)
		if (checked == nil) != (err == nil) {
			t.Fatalf("CheckStrictJSON says %v, ParseStrictJSON says %v, of %q", checked, err, b)
		}
		if checked != nil && !errors.Is(checked, ErrStrictJSON) {
			t.Fatalf("a refusal of CheckStrictJSON that is not ErrStrictJSON: %v", checked)
		}
		if err != nil {
			if !errors.Is(err, ErrStrictJSON) {
				t.Fatalf("a refusal that is not ErrStrictJSON: %v", err)
			}
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		if foldedTwice(t, b) {
			t.Fatalf("accepted two keys that fold together: %q", b)
		}
		if d := depthOf(b); d > MaxJSONDepth {
			t.Fatalf("accepted nesting of %d levels", d)
		}
		// What was accepted compares equal to itself.
		if !PayloadEqual(b, b) {
			t.Fatalf("an accepted body is not equal to itself: %q", b)
		}
		_ = v
	})
}

func FuzzFoldKeyMatchesTheDecoder(f *testing.F) {
	for _, pair := range [][2]string{
		{"operations", "operation\u017f"}, {"kind", "\u212aind"}, {"name", "NAME"}, {"straße", "strasse"},
		{"ǅ", "ǆ"}, {"ΣΑΣ", "σας"}, {"", ""}, {"a", "b"},
	} {
		f.Add(pair[0], pair[1])
	}
	f.Fuzz(func(t *testing.T, key, field string) {
		if !validTagName(field) || !utf8.ValidString(key) {
			return // encoding/json would name the field otherwise, or mangle the key
		}
		decoded := decodesInto(t, key, field)
		if folded := FoldKey(key) == FoldKey(field); folded != decoded {
			t.Fatalf("key %q, field %q: FoldKey equal = %v, encoding/json matched = %v", key, field, folded, decoded)
		}
	})
}

// validTagName is encoding/json's rule for a usable json tag name.
func validTagName(s string) bool {
	if s == "" || s == "-" || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", r) {
			return false
		}
	}
	return true
}

func FuzzDecodeBase64URL(f *testing.F) {
	for _, s := range []string{"", "AA", "AA==", "-_", "+/", "not base64!", "YQ", "YR", "YQ="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, err := DecodeBase64URL(s)
		if err != nil {
			return
		}
		again, err := DecodeBase64URL(EncodeBase64URL(b))
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%q decoded to %x, which does not round-trip: %x, %v", s, b, again, err)
		}
	})
}

func FuzzParsePublicKeyPEM(f *testing.F) {
	for _, kind := range []string{"P256", "P384", "secp256k1", "Ed25519", "RSA", "RSA-PKCS1"} {
		f.Add(webauthntest.NewKeySigner(kind).PublicKeyPEM())
	}
	for _, h := range smallOrderEd25519 {
		b, _ := hex.DecodeString(h)
		f.Add(spkiPEM(f, ed25519.PublicKey(b)))
	}
	f.Add("-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----")
	f.Add("-----BEGIN RSA PUBLIC KEY-----\n-----END RSA PUBLIC KEY-----")
	f.Fuzz(func(t *testing.T, s string) {
		pub, err := ParsePublicKeyPEM(s)
		if err != nil {
			if !errors.Is(err, ErrPublicKey) {
				t.Fatalf("a refusal that is not ErrPublicKey: %v", err)
			}
			return
		}
		if err := CheckPublicKey(pub); err != nil {
			t.Fatalf("accepted a key outside the policy: %v", err)
		}
	})
}

// fuzzChallenge is the challenge the assertion targets verify against.
const fuzzChallenge = "Y2gtZnV6eg"

func FuzzVerifyKeyAssertion(f *testing.F) {
	s := webauthntest.NewKeySigner("P256")
	cd, sig := s.Sign(fuzzChallenge)
	f.Add(mustB64(f, cd), mustB64(f, sig), "")
	f.Add([]byte(`{"type":"key.get","challenge":"`+fuzzChallenge+`"}`), []byte{0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01}, "SHA256")
	f.Add([]byte(`{"type":"key.get","challenge":"`+fuzzChallenge+`","Challenge":"x"}`), []byte{}, "RSA-SHA512")
	f.Add([]byte(`{"type":"key.create","challenge":"`+fuzzChallenge+`"}`), []byte{1}, "MD5")
	pemKey := s.PublicKeyPEM()
	f.Fuzz(func(t *testing.T, clientData, signature []byte, algorithm string) {
		err := VerifyKeyAssertion(pemKey, fuzzChallenge, clientData, signature, algorithm)
		if err == nil {
			// Only a signature by the key over clientData of this
			// ceremony and challenge verifies.
			if cerr := checkKeyClientData(clientData, keyTypeGet, fuzzChallenge); cerr != nil {
				t.Fatalf("verified clientData of another ceremony: %q: %v", clientData, cerr)
			}
			return
		}
		if !errors.Is(err, ErrVerification) {
			t.Fatalf("a refusal that is not ErrVerification: %v", err)
		}
	})
}

func FuzzVerifyKeyAttestation(f *testing.F) {
	for _, kind := range []string{"P256", "Ed25519", "RSA"} {
		s := webauthntest.NewKeySigner(kind)
		cd, att := s.Attest(fuzzChallenge)
		f.Add(mustB64(f, cd), mustB64(f, att))
	}
	f.Add([]byte(`{"type":"key.create","challenge":"`+fuzzChallenge+`"}`), []byte(`{"publicKey":"x","signature":"zz"}`))
	f.Add([]byte(`{"type":"key.create","challenge":"`+fuzzChallenge+`"}`), []byte(`{"publicKey":1}`))
	f.Fuzz(func(t *testing.T, clientData, attestation []byte) {
		pemKey, err := VerifyKeyAttestation(fuzzChallenge, clientData, attestation)
		if err != nil {
			if !errors.Is(err, ErrVerification) {
				t.Fatalf("a refusal that is not ErrVerification: %v", err)
			}
			return
		}
		if _, err := ParsePublicKeyPEM(pemKey); err != nil {
			t.Fatalf("an attestation verified with a key that does not parse: %v", err)
		}
		if cerr := checkKeyClientData(clientData, keyTypeCreate, fuzzChallenge); cerr != nil {
			t.Fatalf("verified clientData of another ceremony: %q: %v", clientData, cerr)
		}
	})
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := DecodeBase64URL(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// FuzzVerifyRecoveryAssertion: a recovery signature verifies only when the
// recovery key signed clientData of a key.get whose challenge decodes to
// the very new credentials sent (spec §4.8); every other input is
// ErrVerification, never a panic.
func FuzzVerifyRecoveryAssertion(f *testing.F) {
	s := webauthntest.NewKeySigner("P256")
	creds := []byte(`{"firstFactorCredential":{"credentialKind":"Key"}}`)
	cd, sig := s.Sign(EncodeBase64URL(creds))
	f.Add(mustB64(f, cd), mustB64(f, sig), creds)
	f.Add(mustB64(f, cd), mustB64(f, sig), []byte(`{"firstFactorCredential":{"credentialKind":"Fido2"}}`))
	f.Add([]byte(`{"type":"key.get","challenge":"e30"}`), []byte{0x30, 0x00}, []byte(`{}`))
	f.Add([]byte(`{"type":"key.create","challenge":"`+EncodeBase64URL(creds)+`"}`), mustB64(f, sig), creds)
	pemKey := s.PublicKeyPEM()
	f.Fuzz(func(t *testing.T, clientData, signature, newCredentials []byte) {
		err := VerifyRecoveryAssertion(pemKey, clientData, signature, "", newCredentials)
		if err == nil {
			fields, ferr := jsonStringFields(clientData, "type", "challenge")
			signed, derr := DecodeBase64URL(fields[1])
			if ferr != nil || derr != nil || fields[0] != keyTypeGet || !PayloadEqual(signed, newCredentials) {
				t.Fatalf("verified a recovery over other credentials: %q for %q", clientData, newCredentials)
			}
			return
		}
		if !errors.Is(err, ErrVerification) {
			t.Fatalf("a refusal that is not ErrVerification: %v", err)
		}
	})
}
