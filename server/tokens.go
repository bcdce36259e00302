package server

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/webauthn"
)

const (
	defaultTokenValidity = 365 * 24 * time.Hour
	maxTokenValidity     = 730 * 24 * time.Hour
)

// accessTokenView is spec §3 AccessToken, plus expiry and last use.
type accessTokenView struct {
	TokenID               string           `json:"tokenId"`
	Kind                  string           `json:"kind"`
	Name                  string           `json:"name"`
	CredID                string           `json:"credId"`
	PublicKey             string           `json:"publicKey"`
	IsActive              bool             `json:"isActive"`
	DateCreated           string           `json:"dateCreated"`
	LinkedUserID          string           `json:"linkedUserId"`
	LinkedAppID           string           `json:"linkedAppId"`
	OrgID                 string           `json:"orgId"`
	PermissionAssignments []assignmentInfo `json:"permissionAssignments"`
	Scope                 string           `json:"scope"`
	AccessToken           string           `json:"accessToken,omitempty"`
	ExternalID            string           `json:"externalId,omitempty"`
	IsArchived            bool             `json:"isArchived"`
	ExpiresAt             string           `json:"expiresAt"`
	LastUsedAt            string           `json:"lastUsedAt,omitempty"`
	LastUsedFor           string           `json:"lastUsedFor,omitempty"`
}

type assignmentInfo struct {
	PermissionName string   `json:"permissionName"`
	PermissionID   string   `json:"permissionId"`
	AssignmentID   string   `json:"assignmentId"`
	Operations     []string `json:"operations"`
}

// linkedAppID is the fixed default application of an organisation (spec §6).
func linkedAppID(orgID string) string { return "ap-" + strings.TrimPrefix(orgID, "or-") }

// accessTokenView loads what the view shows beside the token itself.
func (s *Server) accessTokenView(c echo.Context, t store.AccessToken) (accessTokenView, error) {
	ctx := c.Request().Context()
	cred, err := s.store.GetCredential(ctx, t.CredentialID)
	if err != nil {
		return accessTokenView{}, fmt.Errorf("load credential of token %s: %w", t.ID, err)
	}
	assignments, err := s.assignmentInfos(c, t.ID)
	if err != nil {
		return accessTokenView{}, err
	}
	v := accessTokenView{
		TokenID: t.ID, Kind: t.Kind, Name: t.Name, CredID: cred.CredID, PublicKey: string(cred.PublicKey),
		IsActive: t.IsActive, DateCreated: isoTime(t.CreatedAt), LinkedUserID: t.UserID, LinkedAppID: linkedAppID(t.OrgID),
		OrgID: t.OrgID, PermissionAssignments: assignments, Scope: t.Scope, ExternalID: t.ExternalID, IsArchived: t.IsArchived,
		ExpiresAt: isoTime(t.ExpiresAt), LastUsedFor: t.LastUsedFor,
	}
	if t.LastUsedAt != nil {
		v.LastUsedAt = isoTime(*t.LastUsedAt)
	}
	return v, nil
}

func (s *Server) assignmentInfos(c echo.Context, identityID string) ([]assignmentInfo, error) {
	as, err := s.store.ListAssignments(c.Request().Context(), identityID)
	if err != nil {
		return nil, fmt.Errorf("list assignments of %s: %w", identityID, err)
	}
	out := make([]assignmentInfo, 0, len(as))
	for _, a := range as {
		out = append(out, assignmentInfo{PermissionName: a.PermissionName, PermissionID: a.PermissionID, AssignmentID: a.AssignmentID, Operations: a.Operations})
	}
	return out, nil
}

// tokenKey is the public key, validity and optional permission of a new
// access token, as PAT and service-account creation both take them.
type tokenKey struct {
	Name         string `json:"name"`
	PublicKey    string `json:"publicKey"`
	PermissionID string `json:"permissionId"`
	ExternalID   string `json:"externalId"`
	DaysValid    *int   `json:"daysValid"`
	SecondsValid *int   `json:"secondsValid"`
}

func (r *tokenKey) validate() error {
	if err := checkName("name", r.Name); err != nil {
		return err
	}
	if r.PublicKey == "" {
		return errors.New("publicKey is required")
	}
	if _, err := webauthn.ParsePublicKeyPEM(normalizePEM(r.PublicKey)); err != nil {
		return errors.New("publicKey must be a PEM public key (EC P-256, P-384, secp256k1, Ed25519 or RSA)")
	}
	if r.DaysValid != nil && r.SecondsValid != nil {
		return errors.New("give daysValid or secondsValid, not both")
	}
	if d := r.validity(); d <= 0 || d > maxTokenValidity {
		return errors.New("daysValid must be 1 to 730, secondsValid 1 to 730 days")
	}
	return nil
}

func (r *tokenKey) validity() time.Duration {
	switch {
	case r.DaysValid != nil:
		return time.Duration(*r.DaysValid) * 24 * time.Hour
	case r.SecondsValid != nil:
		return time.Duration(*r.SecondsValid) * time.Second
	}
	return defaultTokenValidity
}

// normalizePEM accepts the literal "\n" escapes the Dfns pattern allows.
func normalizePEM(p string) string {
	return strings.TrimSpace(strings.ReplaceAll(p, `\n`, "\n"))
}

// newAccessToken prepares a token of kind for user, with its Key credential
// and, when the request names one, the permission assignment: the caller
// must hold every operation of that permission. A PAT's scope is fixed
// here (spec §6): with a permission it holds only what is assigned to it,
// without one all of its user's operations.
func (s *Server) newAccessToken(c echo.Context, kind string, u store.User, req tokenKey, assignTo func(tokenID string) string) (store.AccessToken, store.Credential, *store.Assignment, error) {
	ctx := c.Request().Context()
	now := s.opts.Now().UTC()
	t := store.AccessToken{
		ID: store.NewID("to"), OrgID: u.OrgID, Kind: kind, Name: strings.TrimSpace(req.Name), UserID: u.ID,
		ExternalID: req.ExternalID, IsActive: true, CreatedAt: now, ExpiresAt: now.Add(req.validity()),
		Scope: store.ScopeAllUserOperations,
	}
	if kind == store.TokenPAT && req.PermissionID != "" {
		t.Scope = store.ScopeAssignedOnly
	}
	credID := make([]byte, 32)
	if _, err := rand.Read(credID); err != nil {
		return store.AccessToken{}, store.Credential{}, nil, fmt.Errorf("credential id: %w", err)
	}
	cred := store.Credential{
		ID: store.NewID("cr"), OrgID: u.OrgID, UserID: u.ID, Kind: store.CredentialKey, CredID: webauthn.EncodeBase64URL(credID),
		Name: t.Name, PublicKey: []byte(normalizePEM(req.PublicKey)), TokenID: t.ID, IsActive: true, CreatedAt: now,
	}
	t.CredentialID = cred.ID
	var a *store.Assignment
	if req.PermissionID != "" {
		perm, err := s.store.GetPermission(ctx, u.OrgID, req.PermissionID)
		if err != nil {
			return store.AccessToken{}, store.Credential{}, nil, fmt.Errorf("load permission %s: %w", req.PermissionID, err)
		}
		if perm.IsArchived {
			return store.AccessToken{}, store.Credential{}, nil, badRequest("permission "+perm.ID+" is archived", nil)
		}
		if err := s.requireHolds(ctx, callerFrom(c), perm.Operations); err != nil {
			return store.AccessToken{}, store.Credential{}, nil, err
		}
		a = &store.Assignment{
			ID: store.NewID("as"), OrgID: u.OrgID, PermissionID: perm.ID, IdentityID: assignTo(t.ID), CreatedAt: now, UpdatedAt: now,
		}
	}
	return t, cred, a, nil
}

// createPAT creates a personal access token for the caller. Only a person
// may (a PAT or a service account cannot mint tokens), and the PAT never
// holds more than its user.
func (s *Server) createPAT(c echo.Context) error {
	var req tokenKey
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	caller := callerFrom(c)
	t, cred, a, err := s.newAccessToken(c, store.TokenPAT, caller.User, req, func(tokenID string) string { return tokenID })
	if err != nil {
		return err
	}
	if err := s.store.CreateAccessTokenSigned(c.Request().Context(), s.signedChange(c), t, cred, a); err != nil {
		return fmt.Errorf("create PAT: %w", err)
	}
	return s.answerNewToken(c, t, caller.User.Username)
}

// answerNewToken shows a new token once, with its bearer string.
func (s *Server) answerNewToken(c echo.Context, t store.AccessToken, username string) error {
	issued, err := s.tokens.SignAccessToken(t, username)
	if err != nil {
		return err
	}
	v, err := s.accessTokenView(c, t)
	if err != nil {
		return err
	}
	v.AccessToken = issued.Token
	return c.JSON(http.StatusOK, v)
}

type accessTokenList struct {
	Items []accessTokenView `json:"items"`
}

// listPATs lists the caller's PATs; a PAT sees only itself.
func (s *Server) listPATs(c echo.Context) error {
	caller := callerFrom(c)
	ts, err := s.store.ListAccessTokens(c.Request().Context(), store.AccessTokenQuery{OrgID: caller.User.OrgID, UserID: caller.User.ID, Kind: store.TokenPAT})
	if err != nil {
		return fmt.Errorf("list PATs: %w", err)
	}
	out := accessTokenList{Items: make([]accessTokenView, 0, len(ts))}
	for _, t := range ts {
		if caller.Token.Kind == store.TokenPAT && t.ID != caller.Token.ID {
			continue
		}
		v, err := s.accessTokenView(c, t)
		if err != nil {
			return err
		}
		out.Items = append(out.Items, v)
	}
	return c.JSON(http.StatusOK, out)
}

// ownPAT loads a PAT of the caller's user; anything else is not found. A
// PAT manages only itself: only people manage their other PATs (spec §6).
func (s *Server) ownPAT(c echo.Context) (store.AccessToken, error) {
	caller := callerFrom(c)
	t, err := s.store.GetAccessToken(c.Request().Context(), c.Param("tokenId"))
	if err != nil {
		return store.AccessToken{}, fmt.Errorf("load PAT %s: %w", c.Param("tokenId"), err)
	}
	if t.Kind != store.TokenPAT || t.UserID != caller.User.ID || t.OrgID != caller.User.OrgID {
		return store.AccessToken{}, fmt.Errorf("PAT %s is not the caller's: %w", t.ID, store.ErrNotFound)
	}
	if caller.Token.Kind == store.TokenPAT && caller.Token.ID != t.ID {
		return store.AccessToken{}, fmt.Errorf("PAT %s may not manage its user's PAT %s: %w", caller.Token.ID, t.ID, store.ErrNotFound)
	}
	return t, nil
}

func (s *Server) getPAT(c echo.Context) error {
	t, err := s.ownPAT(c)
	if err != nil {
		return err
	}
	v, err := s.accessTokenView(c, t)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

// nameUpdate is the body that renames a PAT or a service account.
type nameUpdate struct {
	Name       *string `json:"name"`
	ExternalID *string `json:"externalId"`
}

func (r *nameUpdate) validate() error { return checkOptionalName("name", r.Name) }

func (s *Server) updatePAT(c echo.Context) error {
	var req nameUpdate
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	return s.patchPAT(c, store.AccessTokenPatch{Name: trimmed(req.Name), ExternalID: req.ExternalID})
}

func (s *Server) activatePAT(c echo.Context) error {
	return s.patchPAT(c, store.AccessTokenPatch{IsActive: ptr(true)})
}
func (s *Server) deactivatePAT(c echo.Context) error {
	return s.patchPAT(c, store.AccessTokenPatch{IsActive: ptr(false)})
}
func (s *Server) archivePAT(c echo.Context) error {
	return s.patchPAT(c, store.AccessTokenPatch{IsArchived: ptr(true)})
}

func (s *Server) patchPAT(c echo.Context, p store.AccessTokenPatch) error {
	t, err := s.ownPAT(c)
	if err != nil {
		return err
	}
	if p.IsActive != nil && *p.IsActive && t.IsArchived {
		return badRequest("an archived token cannot be activated", nil)
	}
	ctx := c.Request().Context()
	if err := s.store.UpdateAccessTokenSigned(ctx, s.signedChange(c), t.OrgID, t.ID, p); err != nil {
		return fmt.Errorf("update PAT %s: %w", t.ID, err)
	}
	if t, err = s.store.GetAccessToken(ctx, t.ID); err != nil {
		return fmt.Errorf("reload PAT: %w", err)
	}
	v, err := s.accessTokenView(c, t)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

func ptr[T any](v T) *T { return &v }

func trimmed(s *string) *string {
	if s == nil {
		return nil
	}
	return ptr(strings.TrimSpace(*s))
}
