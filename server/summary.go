package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"countersign/store"
)

// summaryBody holds the request fields summaries mention.
type summaryBody struct {
	CredentialKind string   `json:"credentialKind"`
	CredentialName string   `json:"credentialName"`
	CredentialUUID string   `json:"credentialUuid"`
	Name           string   `json:"name"`
	Email          string   `json:"email"`
	Operations     []string `json:"operations"`
	IdentityID     string   `json:"identityId"`
	IsArchived     *bool    `json:"isArchived"`
	IsSSORequired  *bool    `json:"isSSORequired"`
}

// summaryRoute describes one signed route in words. Params are the path's
// :segments in order.
type summaryRoute struct {
	pattern string
	say     func(s *Server, ctx context.Context, caller Caller, b summaryBody, params []string) string
}

var summaryRoutes = []summaryRoute{
	{"POST /auth/credentials", func(_ *Server, _ context.Context, _ Caller, b summaryBody, _ []string) string {
		return fmt.Sprintf("Add the %s credential %q", kindWord(b.CredentialKind), b.CredentialName)
	}},
	{"PUT /auth/credentials/activate", func(s *Server, ctx context.Context, c Caller, b summaryBody, _ []string) string {
		return "Activate the credential " + s.credentialLabel(ctx, c, b.CredentialUUID)
	}},
	{"PUT /auth/credentials/deactivate", func(s *Server, ctx context.Context, c Caller, b summaryBody, _ []string) string {
		return "Deactivate the credential " + s.credentialLabel(ctx, c, b.CredentialUUID)
	}},
	{"PUT /auth/credentials/name", func(s *Server, ctx context.Context, c Caller, b summaryBody, _ []string) string {
		return fmt.Sprintf("Rename the credential %s to %q", s.credentialLabel(ctx, c, b.CredentialUUID), b.Name)
	}},
	{"POST /auth/pats", func(_ *Server, _ context.Context, _ Caller, b summaryBody, _ []string) string {
		return fmt.Sprintf("Create the personal access token %q", b.Name)
	}},
	{"PUT /auth/pats/:tokenId", func(s *Server, ctx context.Context, c Caller, b summaryBody, p []string) string {
		return "Update the personal access token " + s.label(ctx, c, p[0]) + renaming(b)
	}},
	{"PUT /auth/pats/:tokenId/activate", said("Activate the personal access token %s")},
	{"PUT /auth/pats/:tokenId/deactivate", said("Deactivate the personal access token %s")},
	{"DELETE /auth/pats/:tokenId", said("Archive the personal access token %s")},
	{"POST /auth/service-accounts", func(_ *Server, _ context.Context, _ Caller, b summaryBody, _ []string) string {
		return fmt.Sprintf("Create the service account %q", b.Name)
	}},
	{"PUT /auth/service-accounts/:serviceAccountId", func(s *Server, ctx context.Context, c Caller, b summaryBody, p []string) string {
		return "Update the service account " + s.label(ctx, c, p[0]) + renaming(b)
	}},
	{"PUT /auth/service-accounts/:serviceAccountId/activate", said("Activate the service account %s")},
	{"PUT /auth/service-accounts/:serviceAccountId/deactivate", said("Deactivate the service account %s")},
	{"DELETE /auth/service-accounts/:serviceAccountId", said("Archive the service account %s")},
	{"POST /auth/users", func(_ *Server, _ context.Context, _ Caller, b summaryBody, _ []string) string {
		return fmt.Sprintf("Invite the user %s", b.Email)
	}},
	{"PUT /auth/users/:userId", func(s *Server, ctx context.Context, c Caller, b summaryBody, p []string) string {
		if b.IsSSORequired != nil && *b.IsSSORequired {
			return "Require single sign-on for the user " + s.label(ctx, c, p[0])
		}
		return "Stop requiring single sign-on for the user " + s.label(ctx, c, p[0])
	}},
	{"PUT /auth/users/:userId/activate", said("Activate the user %s")},
	{"PUT /auth/users/:userId/deactivate", said("Deactivate the user %s")},
	{"DELETE /auth/users/:userId", said("Archive the user %s")},
	{"POST /permissions", func(_ *Server, _ context.Context, _ Caller, b summaryBody, _ []string) string {
		return fmt.Sprintf("Create the permission %q allowing %s", b.Name, strings.Join(b.Operations, ", "))
	}},
	{"PUT /permissions/:permissionId", func(s *Server, ctx context.Context, c Caller, b summaryBody, p []string) string {
		out := "Update the permission " + s.label(ctx, c, p[0]) + renaming(b)
		if b.Operations != nil {
			out += " to allow " + strings.Join(b.Operations, ", ")
		}
		return out
	}},
	{"PUT /permissions/:permissionId/archive", func(s *Server, ctx context.Context, c Caller, b summaryBody, p []string) string {
		if b.IsArchived != nil && !*b.IsArchived {
			return "Unarchive the permission " + s.label(ctx, c, p[0])
		}
		return "Archive the permission " + s.label(ctx, c, p[0])
	}},
	{"POST /permissions/:permissionId/assignments", func(s *Server, ctx context.Context, c Caller, b summaryBody, p []string) string {
		return fmt.Sprintf("Grant the permission %s to %s", s.label(ctx, c, p[0]), s.label(ctx, c, b.IdentityID))
	}},
	{"DELETE /permissions/:permissionId/assignments/:assignmentId", func(s *Server, ctx context.Context, c Caller, _ summaryBody, p []string) string {
		return fmt.Sprintf("Revoke the assignment %s of the permission %s", p[1], s.label(ctx, c, p[0]))
	}},
}

func said(format string) func(*Server, context.Context, Caller, summaryBody, []string) string {
	return func(s *Server, ctx context.Context, c Caller, _ summaryBody, p []string) string {
		return fmt.Sprintf(format, s.label(ctx, c, p[0]))
	}
}

// label names a user, service account, token or permission of the
// caller's organisation for a person to read: "alice@example.com"
// (us-…). Anything it cannot name, or of another organisation, stays its id.
func (s *Server) label(ctx context.Context, caller Caller, id string) string {
	name := ""
	switch {
	case strings.HasPrefix(id, "us-"):
		if u, err := s.store.GetUser(ctx, id); err == nil && u.OrgID == caller.User.OrgID {
			name = u.Username
			if u.IsServiceAccount {
				name = u.Name
			}
		}
	case strings.HasPrefix(id, "to-"):
		if t, err := s.store.GetAccessToken(ctx, id); err == nil && t.OrgID == caller.User.OrgID {
			name = t.Name
		}
	case strings.HasPrefix(id, "pm-"):
		if p, err := s.store.GetPermission(ctx, caller.User.OrgID, id); err == nil {
			name = p.Name
		}
	}
	if name == "" {
		return id
	}
	return fmt.Sprintf("%q (%s)", name, id)
}

func renaming(b summaryBody) string {
	if b.Name != "" {
		return fmt.Sprintf(": rename it %q", b.Name)
	}
	return ""
}

// summarize says in words what a signed request does. The console shows it
// before the passkey prompt and the audit log keeps it, so both read alike.
func (s *Server) summarize(ctx context.Context, caller Caller, method, path string, payload []byte) string {
	if text, ok := s.gatewaySummary(method, path, payload); ok {
		return text
	}
	var body summaryBody
	_ = json.Unmarshal(payload, &body) // an unreadable body is summarised by its route alone
	for _, r := range summaryRoutes {
		if params, ok := matchRoute(r.pattern, method+" "+path); ok {
			return r.say(s, ctx, caller, body, params)
		}
	}
	return method + " " + path
}

// matchRoute matches "METHOD /a/:x/b" against "METHOD /a/1/b" and returns
// the :segments.
func matchRoute(pattern, request string) ([]string, bool) {
	ps, rs := strings.Split(pattern, "/"), strings.Split(request, "/")
	if len(ps) != len(rs) {
		return nil, false
	}
	var params []string
	for i := range ps {
		switch {
		case strings.HasPrefix(ps[i], ":"):
			if rs[i] == "" {
				return nil, false
			}
			params = append(params, rs[i])
		case ps[i] != rs[i]:
			return nil, false
		}
	}
	return params, true
}

func kindWord(kind string) string {
	switch kind {
	case store.CredentialFido2:
		return "passkey"
	case store.CredentialKey:
		return "key"
	}
	return kind
}

// credentialLabel names one of the caller's credentials: "Work laptop"
// (cr-…), or just the id when it is not theirs.
func (s *Server) credentialLabel(ctx context.Context, caller Caller, id string) string {
	cred, err := s.store.GetCredential(ctx, id)
	if err != nil || cred.UserID != caller.User.ID {
		return id
	}
	return fmt.Sprintf("%q (%s)", cred.Name, id)
}
