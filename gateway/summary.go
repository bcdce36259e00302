package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// piece is a literal text, or a JSON Pointer into the signed body.
type piece struct {
	text    string
	pointer []string // nil for a literal; the unescaped reference tokens
}

// maxValue cuts a rendered value: the sentence is read before approving,
// and a body can be large.
const maxValue = 80

// parseSummary reads "Create an order of {/amount} {/currency}": braces
// hold a JSON Pointer (RFC 6901) and nothing else.
func parseSummary(tmpl string) ([]piece, error) {
	var out []piece
	for rest := tmpl; rest != ""; {
		open := strings.IndexByte(rest, '{')
		closeAt := strings.IndexByte(rest, '}')
		if open < 0 {
			if closeAt >= 0 {
				return nil, errors.New("a } without its {")
			}
			out = append(out, piece{text: rest})
			break
		}
		if closeAt >= 0 && closeAt < open {
			return nil, errors.New("a } without its {")
		}
		if open > 0 {
			out = append(out, piece{text: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, errors.New("a { without its }")
		}
		ptr := rest[open+1 : open+end]
		tokens, err := parsePointer(ptr)
		if err != nil {
			return nil, err
		}
		out = append(out, piece{pointer: tokens})
		rest = rest[open+end+1:]
	}
	return out, nil
}

// parsePointer splits a JSON Pointer into its unescaped reference tokens.
func parsePointer(p string) ([]string, error) {
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("{%s} is not a JSON Pointer (it must start with /, as {/amount})", p)
	}
	tokens := strings.Split(p[1:], "/")
	for i, t := range tokens {
		if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(t, "~0", ""), "~1", ""), "~") {
			return nil, fmt.Errorf("{%s}: ~ must be written ~0, / as ~1", p)
		}
		tokens[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~1", "/"), "~0", "~")
	}
	return tokens, nil
}

// Summary renders the approval sentence of a request to route r of u with
// the signed body (a strict-parsed JSON value, or nil): the route's
// template, or "METHOD path on name". A pointer the body lacks renders as
// (none); values are text, cut at maxValue characters.
func (u *Compiled) Summary(r *CompiledRoute, method, path string, body any) string {
	if r == nil || r.summary == nil {
		return fmt.Sprintf("%s %s on %s", method, path, u.Name)
	}
	var b strings.Builder
	for _, p := range r.summary {
		if p.pointer == nil {
			b.WriteString(p.text)
			continue
		}
		b.WriteString(render(lookup(body, p.pointer)))
	}
	return b.String()
}

// missing marks a pointer the body does not have.
type missing struct{}

func lookup(v any, tokens []string) any {
	for _, t := range tokens {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[t]; !ok {
				return missing{}
			}
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(x) || (len(t) > 1 && t[0] == '0') {
				return missing{}
			}
			v = x[i]
		default:
			return missing{}
		}
	}
	return v
}

func render(v any) string {
	var s string
	switch x := v.(type) {
	case missing:
		return "(none)"
	case string:
		s = x
	case json.Number:
		s = x.String()
	case nil:
		s = "null"
	case bool:
		s = strconv.FormatBool(x)
	default:
		raw, err := json.Marshal(x)
		if err != nil {
			return "(none)"
		}
		s = string(raw)
	}
	s = strings.Map(func(r rune) rune {
		// One line, and it reads as it is written: no control characters
		// (C0, C1, line and paragraph separators) and no bidirectional
		// overrides, which would show the rest of the sentence reversed.
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > maxValue {
		s = string([]rune(s)[:maxValue-1]) + "…"
	}
	return s
}

// SummaryFields are the top-level fields of the body the route's summary
// names, in order: what a person filling a request in should give.
func (r *CompiledRoute) SummaryFields() []string {
	var out []string
	seen := map[string]bool{}
	for _, p := range r.summary {
		if len(p.pointer) > 0 && !seen[p.pointer[0]] {
			seen[p.pointer[0]] = true
			out = append(out, p.pointer[0])
		}
	}
	return out
}
