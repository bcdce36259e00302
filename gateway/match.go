package gateway

import (
	"net/url"
	"strings"
)

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
// significant. A path with a segment an upstream might read as more than
// one segment or as a step up (unsafeSegment) matches nothing, so no
// pattern can hand one to an upstream that would decode or clean it into
// another route than the one approved.
func (u *Compiled) Match(method, escapedPath string) (*CompiledRoute, bool) {
	segs := strings.Split(strings.TrimPrefix(escapedPath, "/"), "/")
	for _, s := range segs {
		if unsafeSegment(s) {
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

// unsafeSegment tells a still-encoded path segment that an upstream could
// take for something else than one plain segment: ".", ".." and their
// percent-encodings; one that decodes to a slash or backslash ("..%2F",
// "a%5Cb"), which an upstream decoding before it routes splits in two; one
// with a semicolon ("..;", path parameters, which servlet containers strip
// before cleaning); one still holding a percent sign once decoded (double
// encoding, for an upstream that decodes twice); control characters; and a
// segment that is not valid percent-encoding at all. Such a segment is
// refused, not cleaned: the approval names the path as sent.
func unsafeSegment(s string) bool {
	d, err := url.PathUnescape(s)
	if err != nil || d == "." || d == ".." {
		return true
	}
	return strings.ContainsFunc(d, func(r rune) bool {
		return r == '/' || r == '\\' || r == ';' || r == '%' || r < 0x20 || r == 0x7f
	})
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
