package gateway

import "strings"

// Find returns the upstream whose prefix the still-encoded path starts
// with. Prefixes do not overlap (Compile), so at most one does.
func Find(upstreams []Compiled, escapedPath string) (*Compiled, bool) {
	for i := range upstreams {
		if strings.HasPrefix(escapedPath, upstreams[i].Prefix) {
			return &upstreams[i], true
		}
	}
	return nil, false
}

// Match returns the first route of u serving method and the still-encoded
// path, compared literally: no cleaning, case and trailing slash
// significant, an encoded slash is part of its segment. A path with a dot
// segment (., .., or either percent-encoded) matches nothing, so no
// pattern can hand one to an upstream that would clean it into another
// route.
func (u *Compiled) Match(method, escapedPath string) (*CompiledRoute, bool) {
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	for _, s := range segs {
		if isDotSegment(s) {
			return nil, false
		}
	}
	for i := range u.Routes {
		r := &u.Routes[i]
		if r.Method == method && r.matches(segs) {
			return r, true
		}
	}
	return nil, false
}

func (r *CompiledRoute) matches(segs []string) bool {
	if len(segs) < len(r.segments) || (!r.rest && len(segs) != len(r.segments)) {
		return false
	}
	for i, p := range r.segments {
		switch {
		case strings.HasPrefix(p, ":"):
			if segs[i] == "" {
				return false
			}
		case p != segs[i]:
			return false
		}
	}
	return true
}

// isDotSegment: ".", "..", and their percent-encodings in any case.
func isDotSegment(s string) bool {
	s = strings.ReplaceAll(strings.ToLower(s), "%2e", ".")
	return s == "." || s == ".."
}

// Forwarded is the still-encoded path the upstream receives: the url's
// own path, then the request's path, without the prefix when the upstream
// strips it (its leading slash kept). The assertion names this path.
func (u *Compiled) Forwarded(escapedPath string) string {
	if u.StripPrefix {
		escapedPath = "/" + strings.TrimPrefix(escapedPath, u.Prefix)
	}
	base := ""
	if u.Target != nil {
		base = strings.TrimSuffix(u.Target.EscapedPath(), "/")
	}
	return base + escapedPath
}
