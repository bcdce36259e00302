package server

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"countersign/store"
	"countersign/views"
)

// credentialsPage lists the caller's own credentials with their actions
// and the ways to add one.
func (s *Server) credentialsPage(c echo.Context, caller Caller) error {
	f, err := s.frame(c, caller, "credentials")
	if err != nil {
		return err
	}
	creds, err := s.personalCredentials(c, caller)
	if err != nil {
		return err
	}
	v := views.CredentialsView{Frame: f, InitURL: apiCredentialsInit, CreateURL: apiCredentials}
	for _, cr := range creds {
		v.Credentials = append(v.Credentials, manageableCredentialRow(cr))
	}
	return s.render(c, http.StatusOK, views.CredentialsPage(v))
}

// personalCredentials are the credentials a person signs with: their
// tokens' keys belong to the tokens and are listed with them.
func (s *Server) personalCredentials(c echo.Context, caller Caller) ([]store.Credential, error) {
	creds, err := s.store.ListCredentials(c.Request().Context(), caller.User.ID)
	if err != nil {
		return nil, fmt.Errorf("list credentials of %s: %w", caller.User.ID, err)
	}
	out := creds[:0]
	for _, cr := range creds {
		if cr.TokenID == "" {
			out = append(out, cr)
		}
	}
	return out, nil
}

func credentialRow(c store.Credential) views.CredentialRow {
	row := views.CredentialRow{
		Name: c.Name, Kind: c.Kind, CredentialUUID: c.ID, Created: humanTime(c.CreatedAt),
		LastUsed: never(latest(c.LastLoginAt, c.LastSignAt)), LastLogin: never(c.LastLoginAt), LastSign: never(c.LastSignAt),
		Active: c.IsActive,
	}
	if c.Kind == store.CredentialFido2 {
		row.Storage = "This device only"
		if c.BackupEligible {
			row.Storage = "Synced passkey"
		}
	}
	return row
}

// manageableCredentialRow adds the credential's signed actions.
func manageableCredentialRow(c store.Credential) views.CredentialRow {
	row := credentialRow(c)
	ref := map[string]string{"credentialUuid": c.ID}
	row.Rename = signedForm(http.MethodPut, apiCredentialsName, ref)
	if c.IsActive {
		a := signedAction("Deactivate", "deactivate-button", http.MethodPut, apiCredentialsOff, ref)
		a.Danger = true
		row.Actions = []views.SignedAction{a}
	} else {
		row.Actions = []views.SignedAction{signedAction("Activate", "activate-button", http.MethodPut, apiCredentialsOn, ref)}
	}
	return row
}

func latest(ts ...*time.Time) *time.Time {
	var out *time.Time
	for _, t := range ts {
		if t != nil && (out == nil || t.After(*out)) {
			out = t
		}
	}
	return out
}
