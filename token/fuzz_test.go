package token

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"countersign/store"
)

// FuzzParse feeds Parse any string in place of a bearer token: it must
// never panic, refuse with ErrInvalid, and accept only the claims this
// issuer signed (a token whose encoding is altered without changing what
// it decodes to may still verify; its claims may not differ).
func FuzzParse(f *testing.F) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	is, _ := newIssuer(f, &now)
	u := store.User{ID: "us-1", OrgID: "or-1", Username: "alice"}
	issued, err := is.IssueTemp("ch-1", u)
	if err != nil {
		f.Fatal(err)
	}
	want, err := is.Parse(issued.Token, store.TokenTemp)
	if err != nil {
		f.Fatal(err)
	}
	parts := strings.Split(issued.Token, ".")
	f.Add(issued.Token)
	f.Add(parts[0] + "." + parts[1] + ".")                                                // no signature
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + parts[1] + ".")                        // alg none
	f.Add("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9." + parts[1] + "." + parts[2])            // alg swapped to HS256
	f.Add(parts[0] + "." + strings.ToUpper(parts[1][:4]) + parts[1][4:] + "." + parts[2]) // tampered claims
	f.Add("")
	f.Add("..")
	f.Add(strings.Repeat("a.", 1000))
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := is.Parse(raw, store.TokenTemp, store.TokenLogin, store.TokenPAT, store.TokenServiceAccount)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("a refusal that is not ErrInvalid: %v", err)
			}
			return
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("accepted claims this issuer never signed: %+v", got)
		}
	})
}
