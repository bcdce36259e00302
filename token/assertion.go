package token

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AssertionType is the typ header of the assertions the gateway sends
// upstream (spec/gateway.md §4): an assertion is never a bearer token, and
// a bearer token never an assertion.
const AssertionType = "countersign-assertion+jwt"

// AssertionTTL is how long an upstream may accept an assertion.
const AssertionTTL = 60 * time.Second

// Request is the request an assertion vouches for, as forwarded.
type Request struct {
	Method     string `json:"method"`
	Path       string `json:"path"`
	Query      string `json:"query"`
	BodySHA256 string `json:"body_sha256"`
}

// Action is who approved a signed request, and what they were shown.
type Action struct {
	CredentialID   string `json:"credential_id"`
	CredentialKind string `json:"credential_kind"`
	Summary        string `json:"summary"`
}

// AssertionClaims are the claims of a gateway assertion.
type AssertionClaims struct {
	jwt.RegisteredClaims
	OrgID    string  `json:"org_id"`
	Username string  `json:"username"`
	Kind     string  `json:"kind"` // user, pat or service_account
	TokenID  string  `json:"token_id"`
	Req      Request `json:"req"`
	Act      *Action `json:"act,omitempty"`
}

// Kinds of identity an assertion names.
const (
	AssertedUser           = "user"
	AssertedPAT            = "pat"
	AssertedServiceAccount = "service_account"
)

// SignAssertion signs an assertion for the upstream audience: iss is this
// issuer, iat now and exp now + AssertionTTL, with the token signing key
// published in the JWKS and the assertion typ.
func (is *Issuer) SignAssertion(audience string, c AssertionClaims) (string, error) {
	now := is.opts.Now().UTC()
	c.Issuer = is.opts.Issuer
	c.Audience = jwt.ClaimStrings{audience}
	c.IssuedAt = jwt.NewNumericDate(now)
	c.ExpiresAt = jwt.NewNumericDate(now.Add(AssertionTTL))
	key := is.signer()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, c)
	tok.Header["kid"] = key.kid
	tok.Header["typ"] = AssertionType
	s, err := tok.SignedString(key.priv)
	if err != nil {
		return "", fmt.Errorf("sign assertion: %w", err)
	}
	return s, nil
}
