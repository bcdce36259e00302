package server

import (
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"countersign/aaguid"
	"countersign/store"
	"countersign/views"
)

// pathPasskeyProviders serves the AAGUID list as {aaguid: name}, so the
// console can name a new passkey after its provider before it is signed.
const pathPasskeyProviders = "/console/passkey-providers.json"

// credentialsPage lists the caller's own passkeys and keys for scripts,
// with their actions and the ways to add one.
func (s *Server) credentialsPage(c echo.Context, caller Caller) error {
	f, err := s.frame(c, caller, "credentials")
	if err != nil {
		return err
	}
	creds, err := s.personalCredentials(c, caller)
	if err != nil {
		return err
	}
	v := views.CredentialsView{Frame: f, InitURL: apiCredentialsInit, CreateURL: apiCredentials, ProvidersURL: pathPasskeyProviders,
		Recovery: s.recoveryPanels(creds)}
	last := lastSignIn(creds) // a recovery key cannot sign in: it does not count
	for _, cr := range creds {
		row := manageableCredentialRow(cr, cr.ID == last)
		if cr.Kind == store.CredentialFido2 {
			v.Passkeys = append(v.Passkeys, row)
		} else {
			v.Keys = append(v.Keys, row)
		}
	}
	return s.render(c, http.StatusOK, views.CredentialsPage(v))
}

// passkeyProviders answers the embedded AAGUID list. It is public data,
// the same for everyone, so browsers may keep it a day.
func (s *Server) passkeyProviders(c echo.Context) error {
	c.Response().Header().Set("Cache-Control", "public, max-age=86400")
	return c.JSON(http.StatusOK, aaguid.Names())
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
	row.Description, row.Storage, row.Icon = describeCredential(c)
	return row
}

// describeCredential says what a credential is in plain words, where it
// lives, and which icon shows it. A passkey's provider comes from its
// AAGUID; whether it syncs from its backup-eligible flag; a security key
// is one that travels by USB, NFC or Bluetooth only.
func describeCredential(c store.Credential) (description, storage, icon string) {
	if c.Kind == store.CredentialRecoveryKey {
		return "Recovery code", "Its key is encrypted under the code you saved", "key"
	}
	if c.Kind != store.CredentialFido2 {
		return "Key for scripts", "", "key"
	}
	provider, known := aaguid.Lookup(c.AAGUID)
	roaming := slices.ContainsFunc(c.Transports, func(t string) bool { return t == "usb" || t == "nfc" || t == "ble" }) &&
		!slices.ContainsFunc(c.Transports, func(t string) bool { return t == "internal" || t == "hybrid" })
	switch {
	case roaming:
		description = "Security key"
		if known {
			description = "Security key: " + provider.Name
		}
		return description, "Stays on this security key", "security-key"
	case c.BackupEligible:
		description = "Synced passkey"
		if known {
			description = "Passkey in " + provider.Name
		}
		return description, "Synced across your devices", "synced"
	}
	description = "Passkey"
	if known {
		description = "Passkey in " + provider.Name
	}
	return description, "Stays on the device that made it", "device"
}

// manageableCredentialRow adds the credential's signed actions. The last
// active credential cannot be deactivated (the server would refuse after
// the passkey prompt), so its button says why instead.
func manageableCredentialRow(c store.Credential, last bool) views.CredentialRow {
	row := credentialRow(c)
	ref := map[string]string{"credentialUuid": c.ID}
	row.Rename = signedForm(http.MethodPut, apiCredentialsName, ref)
	var a views.SignedAction
	switch {
	case c.IsArchived: // retired by a recovery or a newer recovery key: for good
		return row
	case c.IsActive:
		a = signedAction("Deactivate", "deactivate-button", http.MethodPut, apiCredentialsOff, ref)
		a.Danger = true
		if last {
			a.DisabledReason = "Your only active credential: add another before you deactivate it, or you could not sign in again."
		}
	default:
		a = signedAction("Activate", "activate-button", http.MethodPut, apiCredentialsOn, ref)
	}
	a.Row, a.Signal = c.Name, "credentials"
	row.Actions = []views.SignedAction{a}
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
