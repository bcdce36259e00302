package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
)

// Upstream is one service behind the gateway as the configuration file
// gives it (spec §2). Durations and sizes stay text here so that every bad
// value is reported together by Compile.
type Upstream struct {
	Name        string   `yaml:"name"`
	Prefix      string   `yaml:"prefix"`
	URL         string   `yaml:"url"`
	StripPrefix bool     `yaml:"strip_prefix"`
	Timeout     string   `yaml:"timeout"`    // default 30s: time for the upstream to answer with headers
	MaxBody     string   `yaml:"max_body"`   // default 1MiB
	RateLimit   *float64 `yaml:"rate_limit"` // requests per second per identity (per address on public routes); default 50, 0 = off
	Routes      []Route  `yaml:"routes"`
}

// Route is one method and path pattern of an upstream.
type Route struct {
	Method    string `yaml:"method"`
	Path      string `yaml:"path"`      // :name is one segment, a trailing * the rest
	Operation string `yaml:"operation"` // the permission operation it needs
	Summary   string `yaml:"summary"`   // the approval sentence, with {/json/pointer}s of the signed body
	Public    bool   `yaml:"public"`    // no token needed; GET and HEAD only
}

// Defaults of an upstream.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultMaxBody   = 1 << 20
	DefaultRateLimit = 50.0
	maxMaxBody       = 64 << 20
)

// Compiled is a validated upstream, ready to match and forward.
type Compiled struct {
	Name        string
	Prefix      string
	Target      *url.URL
	StripPrefix bool
	Timeout     time.Duration
	MaxBody     int64
	RateLimit   float64
	Routes      []CompiledRoute
}

// CompiledRoute is a validated route.
type CompiledRoute struct {
	Method    string
	Pattern   string
	Operation string
	Public    bool
	summary   []piece // nil: the default sentence
	segments  []string
	rest      bool // the pattern ends with *
}

// Mutating reports whether requests of the route must carry a user action:
// every method but GET, HEAD and OPTIONS (spec §3.3).
func (r *CompiledRoute) Mutating() bool {
	switch r.Method {
	case "GET", "HEAD", "OPTIONS":
		return false
	}
	return true
}

var (
	nameRE      = regexp.MustCompile(`^[a-z0-9-]{1,40}$`)
	operationRE = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*(:[A-Z][A-Za-z0-9]*)+$`)
	methods     = map[string]bool{"GET": true, "HEAD": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true, "OPTIONS": true}
)

// reservedNamespaces are the first words of Dfns's own operations (spec
// dfns-auth-api.md §7): an upstream may not declare an operation in them.
var reservedNamespaces = []string{"Auth", "Permissions", "PermissionAssignments", "Orgs", "Policies", "Keys", "Wallets", "Alias", "Internal"}

// Compile validates upstreams and reports every problem at once: names,
// prefixes (unique, not overlapping each other), URLs, durations, sizes,
// routes (methods, patterns under the prefix, operations, summaries,
// public routes that read only).
func Compile(upstreams []Upstream) ([]Compiled, error) {
	var errs []error
	bad := func(i int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("upstreams[%d]: %s", i, fmt.Sprintf(format, args...)))
	}
	out := make([]Compiled, 0, len(upstreams))
	names := map[string]int{}
	for i, u := range upstreams {
		c := Compiled{Name: u.Name, Prefix: u.Prefix, StripPrefix: u.StripPrefix, Timeout: DefaultTimeout, MaxBody: DefaultMaxBody, RateLimit: DefaultRateLimit}
		if !nameRE.MatchString(u.Name) {
			bad(i, "name %q must be 1 to 40 of a-z, 0-9 and -", u.Name)
		} else if j, dup := names[u.Name]; dup {
			bad(i, "name %q is also upstreams[%d]'s", u.Name, j)
		} else {
			names[u.Name] = i
		}
		if err := checkPrefix(u.Prefix); err != nil {
			bad(i, "%v", err)
		}
		target, err := url.Parse(u.URL)
		if err != nil || (target.Scheme != "http" && target.Scheme != "https") || target.Host == "" || target.RawQuery != "" || target.Fragment != "" || target.User != nil {
			bad(i, "url %q must be http(s)://host[:port][/path], without query, fragment or credentials", u.URL)
		}
		c.Target = target
		if u.Timeout != "" {
			if c.Timeout, err = time.ParseDuration(u.Timeout); err != nil || c.Timeout <= 0 {
				bad(i, "timeout %q must be a positive duration such as 30s", u.Timeout)
			}
		}
		if u.MaxBody != "" {
			n, err := humanize.ParseBytes(u.MaxBody)
			if err != nil || n == 0 || n > maxMaxBody {
				bad(i, "max_body %q must be a size from 1B to 64MiB, such as 1MiB", u.MaxBody)
			}
			c.MaxBody = int64(n)
		}
		if u.RateLimit != nil {
			if c.RateLimit = *u.RateLimit; c.RateLimit < 0 {
				bad(i, "rate_limit must not be negative")
			}
		}
		if len(u.Routes) == 0 {
			bad(i, "routes: an upstream without routes serves nothing")
		}
		for j, r := range u.Routes {
			cr, rerrs := compileRoute(u.Prefix, r)
			for _, e := range rerrs {
				bad(i, "routes[%d]: %v", j, e)
			}
			c.Routes = append(c.Routes, cr)
		}
		out = append(out, c)
	}
	for i := range upstreams {
		for j := range i {
			a, b := upstreams[i].Prefix, upstreams[j].Prefix
			if a != "" && b != "" && (strings.HasPrefix(a, b) || strings.HasPrefix(b, a)) {
				bad(i, "prefix %q overlaps upstreams[%d] (%s)'s %q", a, j, upstreams[j].Name, b)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// checkPrefix: a prefix is an absolute path ending with /, of plain
// segments (no dot segments, no encoding, no empty segment, not "/").
func checkPrefix(p string) error {
	if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") || p == "/" {
		return fmt.Errorf("prefix %q must start and end with / and name at least one segment", p)
	}
	for _, seg := range strings.Split(strings.Trim(p, "/"), "/") {
		if !plainSegment(seg) {
			return fmt.Errorf("prefix %q has a segment %q that is empty, a dot segment or not plain (letters, digits, - _ ~)", p, seg)
		}
	}
	return nil
}

// plainSegment: unreserved characters only, and not . or ..
func plainSegment(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return false
		}
	}
	return true
}

func compileRoute(prefix string, r Route) (CompiledRoute, []error) {
	var errs []error
	c := CompiledRoute{Method: r.Method, Pattern: r.Path, Operation: r.Operation, Public: r.Public}
	if !methods[r.Method] {
		errs = append(errs, fmt.Errorf("method %q is not one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS (upper case)", r.Method))
	}
	if prefix != "" && !strings.HasPrefix(r.Path, prefix) && r.Path+"/" != prefix {
		errs = append(errs, fmt.Errorf("path %q is not under the upstream's prefix %q", r.Path, prefix))
	}
	segs := strings.Split(strings.TrimPrefix(r.Path, "/"), "/")
	for i, seg := range segs {
		switch {
		case seg == "*" && i == len(segs)-1:
			c.rest = true
			segs = segs[:i]
		case strings.HasPrefix(seg, ":") && nameRE.MatchString(strings.ToLower(seg[1:])):
		case plainSegment(seg), seg == "" && i == len(segs)-1:
		default:
			errs = append(errs, fmt.Errorf("path %q: segment %q is not plain, :name, or a final *", r.Path, seg))
		}
	}
	c.segments = segs
	switch {
	case r.Public && c.Mutating():
		errs = append(errs, fmt.Errorf("%s %s: only GET and HEAD routes may be public", r.Method, r.Path))
	case r.Public && r.Operation != "":
		errs = append(errs, fmt.Errorf("%s %s: a public route needs no operation", r.Method, r.Path))
	case !r.Public:
		if err := CheckOperation(r.Operation); err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", r.Method, r.Path, err))
		}
	}
	if r.Summary != "" {
		pieces, err := parseSummary(r.Summary)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: summary: %w", r.Method, r.Path, err))
		}
		c.summary = pieces
	}
	return c, errs
}

// CheckOperation tells whether op may be declared by a route:
// Word:Word[:Word…], outside Dfns's own namespaces.
func CheckOperation(op string) error {
	if !operationRE.MatchString(op) {
		return fmt.Errorf("operation %q must be of the form Word:Word[:Word…], such as Orders:Create", op)
	}
	first, _, _ := strings.Cut(op, ":")
	for _, ns := range reservedNamespaces {
		if first == ns {
			return fmt.Errorf("operation %q is in Dfns's own namespace %s:", op, ns)
		}
	}
	return nil
}

// Operations lists the operations the routes declare, each once, in the
// order of the configuration.
func Operations(upstreams []Compiled) []string {
	seen := map[string]bool{}
	var out []string
	for _, u := range upstreams {
		for _, r := range u.Routes {
			if r.Operation != "" && !seen[r.Operation] {
				seen[r.Operation] = true
				out = append(out, r.Operation)
			}
		}
	}
	return out
}
