package webauthn

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

	"countersign/store"
)

var (
	// ErrInvitation: the organisation, user or registration code of a
	// registration is unknown, wrong, expired or used (one error on purpose).
	ErrInvitation = errors.New("registration code invalid, expired or used")
	// ErrUnsupportedKind: a credential kind countersign does not implement.
	ErrUnsupportedKind = errors.New("credential kind not supported")
	// ErrInvalidInput: a value the caller sent is not acceptable.
	ErrInvalidInput = errors.New("invalid input")
)

// FullAdminPermission is the name of the owner's built-in, immutable
// permission.
const FullAdminPermission = "DfnsFullAdminAccess"

// FullAdminOperations are every operation of the auth area (spec §7): the
// owner holds all of them.
var FullAdminOperations = []string{
	"Auth:Users:Create", "Auth:Users:Read", "Auth:Users:Update", "Auth:Users:Activate", "Auth:Users:Deactivate", "Auth:Users:Delete",
	"Auth:ServiceAccounts:Create", "Auth:ServiceAccounts:Read", "Auth:ServiceAccounts:Update",
	"Auth:ServiceAccounts:Activate", "Auth:ServiceAccounts:Deactivate", "Auth:ServiceAccounts:Delete",
	"Auth:Pats:Create", "Auth:Logs:Read",
	"Auth:Register:Delegated", "Auth:Login:Delegated", "Auth:Recover:Delegated",
	"Permissions:Create", "Permissions:Read", "Permissions:Update", "Permissions:Archive",
	"Permissions:Assign", "Permissions:Revoke", "Permissions:Assignments:Read",
}

// InviteRequest names the user to invite. OrgID empty means the server's
// organisation, created on first use.
type InviteRequest struct {
	OrgID    string
	Username string
	Name     string
}

// Invited is the result of an invitation: the code is shown once and only
// its hash is kept.
type Invited struct {
	Org        store.Org
	User       store.User
	Code       string
	ExpiresAt  time.Time
	Owner      bool
	Invitation store.Invitation // what the store writes
}

// Invite creates a user with a one-time registration code. On a store with
// no organisation it first creates one, and its first user is the owner,
// holding the immutable full-admin permission.
func (cs *Ceremonies) Invite(ctx context.Context, req InviteRequest) (Invited, error) {
	org, err := cs.inviteOrg(ctx, req.OrgID)
	if err != nil {
		return Invited{}, err
	}
	inv, err := cs.NewInvitation(InviteRequest{OrgID: org.ID, Username: req.Username, Name: req.Name})
	if err != nil {
		return Invited{}, err
	}
	if org.ID == "" {
		cs.makeOwner(&inv)
	}
	if err := cs.store.Invite(ctx, inv.Invitation); err != nil {
		return Invited{}, fmt.Errorf("invite %q: %w", inv.User.Username, err)
	}
	return inv, nil
}

// NewInvitation prepares, without storing, a user of req.OrgID with a
// one-time registration code. An empty OrgID prepares a new organisation.
func (cs *Ceremonies) NewInvitation(req InviteRequest) (Invited, error) {
	username := strings.TrimSpace(req.Username)
	if username == "" || len(username) > 254 || strings.ContainsAny(username, "\x00\r\n\t") {
		return Invited{}, fmt.Errorf("username must be 1 to 254 printable characters: %w", ErrInvalidInput)
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = username
	}
	now := cs.opts.Now().UTC()
	org := store.Org{ID: req.OrgID}
	u := store.User{
		ID: store.NewID("us"), OrgID: org.ID, Username: username, Name: name,
		Kind: store.KindCustomerEmployee, UserHandle: EncodeBase64URL(randomBytes(32)),
		IsActive: true, CreatedAt: now,
	}
	code := newRegistrationCode()
	inv := Invited{Org: org, User: u, Code: code, ExpiresAt: now.Add(cs.opts.CodeTTL)}
	inv.Invitation = store.Invitation{User: u, Code: store.RegistrationCode{UserID: u.ID, CodeHash: hashCode(code), ExpiresAt: inv.ExpiresAt}}
	return inv, nil
}

// makeOwner turns an invitation into the creation of a new organisation
// whose first user holds the immutable full-admin permission.
func (cs *Ceremonies) makeOwner(inv *Invited) {
	now := cs.opts.Now().UTC()
	org := store.Org{ID: store.NewID("or"), Name: "countersign", CreatedAt: now}
	inv.Org, inv.Owner = org, true
	inv.User.OrgID = org.ID
	inv.Invitation.User.OrgID = org.ID
	inv.Invitation.Org = &org
	inv.Invitation.FirstOrg = true
	perm := store.Permission{
		ID: store.NewID("pm"), OrgID: org.ID, Name: FullAdminPermission, Operations: FullAdminOperations,
		IsImmutable: true, CreatedAt: now, UpdatedAt: now,
	}
	inv.Invitation.Permission = &perm
	inv.Invitation.Assignment = &store.Assignment{
		ID: store.NewID("as"), OrgID: org.ID, PermissionID: perm.ID, IdentityID: inv.User.ID,
		IsImmutable: true, CreatedAt: now, UpdatedAt: now,
	}
}

// inviteOrg returns the organisation to invite into, or a zero Org when the
// store has none yet.
func (cs *Ceremonies) inviteOrg(ctx context.Context, orgID string) (store.Org, error) {
	if orgID != "" {
		org, err := cs.store.GetOrg(ctx, orgID)
		if err != nil {
			return store.Org{}, fmt.Errorf("load org %s: %w", orgID, err)
		}
		return org, nil
	}
	orgs, err := cs.store.ListOrgs(ctx)
	if err != nil {
		return store.Org{}, fmt.Errorf("list orgs: %w", err)
	}
	if len(orgs) == 0 {
		return store.Org{}, nil
	}
	return orgs[0], nil
}

// newRegistrationCode returns 100 random bits as five groups of base32, easy
// to read out and to type: e.g. "K7QXM-2PD4R-…".
func newRegistrationCode() string {
	s := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(randomBytes(15))[:20]
	return s[0:5] + "-" + s[5:10] + "-" + s[10:15] + "-" + s[15:20]
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand: " + err.Error())
	}
	return b
}

// ErrRegistered: the user has registered already, so there is no
// invitation to renew.
var ErrRegistered = errors.New("user has already registered")

// Reinvite gives a user who has not registered yet a new registration
// code, replacing the old one: a lost or expired invitation is issued again.
func (cs *Ceremonies) Reinvite(ctx context.Context, orgID, username string) (Invited, error) {
	org, err := cs.inviteOrg(ctx, orgID)
	if err != nil {
		return Invited{}, err
	}
	u, err := cs.store.GetUserByUsername(ctx, org.ID, strings.TrimSpace(username))
	if err != nil {
		return Invited{}, fmt.Errorf("load user %q: %w", username, err)
	}
	if u.IsRegistered || u.IsServiceAccount {
		return Invited{}, fmt.Errorf("user %s: %w", u.ID, ErrRegistered)
	}
	code := newRegistrationCode()
	rc := store.RegistrationCode{UserID: u.ID, CodeHash: hashCode(code), ExpiresAt: cs.opts.Now().UTC().Add(cs.opts.CodeTTL)}
	if err := cs.store.RenewRegistrationCode(ctx, rc); err != nil {
		return Invited{}, fmt.Errorf("renew the code of %s: %w", u.ID, err)
	}
	return Invited{Org: org, User: u, Code: code, ExpiresAt: rc.ExpiresAt}, nil
}

// LookUpInvitee returns the active person invited under username of orgID
// who has not registered yet: ErrNotFound when there is none, ErrRegistered
// when they have registered.
func (cs *Ceremonies) LookUpInvitee(ctx context.Context, orgID, username string) (store.User, error) {
	u, err := cs.store.GetUserByUsername(ctx, orgID, strings.TrimSpace(username))
	if err != nil {
		return store.User{}, fmt.Errorf("load user %q: %w", username, err)
	}
	switch {
	case u.IsServiceAccount || !u.IsActive || u.IsArchived:
		return store.User{}, fmt.Errorf("user %s cannot be invited: %w", u.ID, store.ErrNotFound)
	case u.IsRegistered:
		return store.User{}, fmt.Errorf("user %s: %w", u.ID, ErrRegistered)
	}
	return u, nil
}
