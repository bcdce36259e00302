package server

import (
	"net/url"
	"slices"
	"strings"
)

// maxReturnPath bounds the page a sign-in returns to.
const maxReturnPath = 1024

// returnPath is where a sign-in sends a person back to: raw when it is a
// page of this console given as a relative path (a query is kept, re-encoded),
// the console's home otherwise. Anything that could leave the origin or
// reach another route (a scheme, a host, "//", a backslash, control
// characters, an unknown path) is refused: no open redirect.
func returnPath(raw string) string {
	if raw == "" || len(raw) > maxReturnPath || !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") ||
		strings.ContainsFunc(raw, func(r rune) bool { return r == '\\' || r < 0x20 || r == 0x7f }) {
		return pathConsole
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || u.RawPath != "" {
		return pathConsole
	}
	if !slices.ContainsFunc(navigation, func(n navEntry) bool { return n.url == u.Path }) {
		return pathConsole
	}
	if u.RawQuery == "" {
		return u.Path
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return u.Path
	}
	return u.Path + "?" + q.Encode()
}

// loginURLFor is the sign-in page that returns to path afterwards.
func loginURLFor(path string, renew bool) string {
	q := url.Values{}
	if p := returnPath(path); p != pathConsole {
		q.Set("next", p)
	}
	if renew {
		q.Set("renew", "1")
	}
	if len(q) == 0 {
		return pathLogin
	}
	return pathLogin + "?" + q.Encode()
}
