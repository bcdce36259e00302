package webauthn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrStrictJSON: a body that is not strict JSON: invalid UTF-8, a duplicate
// key, two keys that fold together, nesting deeper than MaxJSONDepth, or
// trailing data.
var ErrStrictJSON = errors.New("body is not strict JSON")

// MaxJSONDepth bounds how deeply objects and arrays nest in a strict body.
// The parser recurses per level; without a bound a megabyte of "[" costs
// hundreds of megabytes of stack. Real request bodies nest a few levels.
const MaxJSONDepth = 64

// ParseStrictJSON parses one JSON value and refuses what would let two
// parsers disagree about it: invalid UTF-8, duplicate keys, and keys that
// are one field to Go's decoder, which matches struct fields under Unicode
// simple case folding ({"name":…,"Name":…}, or "operations" and
// "operationſ" with U+017F LATIN SMALL LETTER LONG S, are ambiguous: a
// JavaScript reader sees two keys where Go sees one). Nesting is bounded by
// MaxJSONDepth. Numbers stay json.Number, compared by their literal.
func ParseStrictJSON(b []byte) (any, error) {
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("invalid UTF-8: %w", ErrStrictJSON)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := strictValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON value: %w", ErrStrictJSON)
	}
	return v, nil
}

func strictValue(dec *json.Decoder, depth int) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStrictJSON, err)
	}
	d, ok := tok.(json.Delim)
	if !ok {
		return tok, nil
	}
	if depth >= MaxJSONDepth {
		return nil, fmt.Errorf("nested deeper than %d levels: %w", MaxJSONDepth, ErrStrictJSON)
	}
	switch d {
	case '{':
		return strictObject(dec, depth+1)
	case '[':
		arr := []any{}
		for dec.More() {
			v, err := strictValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		if _, err := dec.Token(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStrictJSON, err)
		}
		return arr, nil
	}
	return nil, fmt.Errorf("unexpected %v: %w", d, ErrStrictJSON)
}

func strictObject(dec *json.Decoder, depth int) (any, error) {
	obj := map[string]any{}
	folded := map[string]string{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStrictJSON, err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key is not a string: %w", ErrStrictJSON)
		}
		fk := FoldKey(key)
		if first, seen := folded[fk]; seen {
			return nil, fmt.Errorf("keys %q and %q are one field to a case-insensitive decoder: %w", first, key, ErrStrictJSON)
		}
		folded[fk] = key
		v, err := strictValue(dec, depth)
		if err != nil {
			return nil, err
		}
		obj[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStrictJSON, err)
	}
	return obj, nil
}

// CheckStrictJSON accepts exactly what ParseStrictJSON accepts, without
// building the value: for a body that is only checked before it is
// decoded into a struct. It lets encoding/json validate the syntax (its
// scanner allocates nothing per token and bounds nesting itself), then
// walks the valid bytes for the depth and the keys of each object.
func CheckStrictJSON(b []byte) error {
	if !utf8.Valid(b) {
		return fmt.Errorf("invalid UTF-8: %w", ErrStrictJSON)
	}
	if !json.Valid(b) {
		return fmt.Errorf("not one JSON value: %w", ErrStrictJSON)
	}
	w := strictWalker{b: b}
	return w.value(0)
}

// strictWalker walks JSON that json.Valid accepted, so it checks no
// syntax: it only finds where each value ends.
type strictWalker struct {
	b []byte
	i int
}

func (w *strictWalker) skipSpace() {
	for w.i < len(w.b) {
		switch w.b[w.i] {
		case ' ', '\t', '\n', '\r':
			w.i++
		default:
			return
		}
	}
}

func isDelimiter(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ']', '}':
		return true
	}
	return false
}

// value walks one value that begins at depth containers deep.
func (w *strictWalker) value(depth int) error {
	w.skipSpace()
	switch w.b[w.i] {
	case '{', '[':
		if depth >= MaxJSONDepth {
			return fmt.Errorf("nested deeper than %d levels: %w", MaxJSONDepth, ErrStrictJSON)
		}
		if w.b[w.i] == '{' {
			return w.object(depth + 1)
		}
		return w.array(depth + 1)
	case '"':
		w.str()
	default: // a number, true, false or null: up to the next delimiter
		for w.i < len(w.b) && !isDelimiter(w.b[w.i]) {
			w.i++
		}
	}
	return nil
}

func (w *strictWalker) array(depth int) error {
	w.i++ // [
	w.skipSpace()
	if w.b[w.i] == ']' {
		w.i++
		return nil
	}
	for {
		if err := w.value(depth); err != nil {
			return err
		}
		w.skipSpace()
		c := w.b[w.i]
		w.i++ // , or ]
		if c == ']' {
			return nil
		}
	}
}

func (w *strictWalker) object(depth int) error {
	w.i++ // {
	var seen foldedKeys
	for {
		w.skipSpace()
		if w.b[w.i] == '}' {
			w.i++
			return nil
		}
		key, err := w.key()
		if err != nil {
			return err
		}
		if first, dup := seen.add(key); dup {
			return fmt.Errorf("keys %q and %q are one field to a case-insensitive decoder: %w", first, key, ErrStrictJSON)
		}
		w.skipSpace()
		w.i++ // :
		if err := w.value(depth); err != nil {
			return err
		}
		w.skipSpace()
		if w.b[w.i] == ',' {
			w.i++
		}
	}
}

// foldedKeys are the keys of one object under FoldKey. An object of a
// request body holds a few keys, which a slice compares fastest; past
// foldedSliceMax they go into a map, so an object of a hundred thousand
// keys costs linear time, not quadratic.
type foldedKeys struct {
	folded, keys []string
	byFold       map[string]string
}

const foldedSliceMax = 16

// add records key and, when a key folding like it was seen, returns that one.
func (f *foldedKeys) add(key string) (first string, dup bool) {
	fk := FoldKey(key)
	if f.byFold != nil {
		if first, dup = f.byFold[fk]; !dup {
			f.byFold[fk] = key
		}
		return first, dup
	}
	if n := slices.Index(f.folded, fk); n >= 0 {
		return f.keys[n], true
	}
	f.folded, f.keys = append(f.folded, fk), append(f.keys, key)
	if len(f.folded) > foldedSliceMax {
		f.byFold = make(map[string]string, 2*len(f.folded))
		for i, k := range f.folded {
			f.byFold[k] = f.keys[i]
		}
	}
	return "", false
}

// key returns the object key at w.i, unescaped as encoding/json does.
func (w *strictWalker) key() (string, error) {
	start := w.i
	escaped := w.str()
	raw := w.b[start:w.i]
	if !escaped {
		return string(raw[1 : len(raw)-1]), nil
	}
	var key string
	if err := json.Unmarshal(raw, &key); err != nil {
		return "", fmt.Errorf("%w: %w", ErrStrictJSON, err)
	}
	return key, nil
}

// str moves past the string at w.i and tells whether it holds an escape.
func (w *strictWalker) str() (escaped bool) {
	w.i++ // opening quote
	for {
		switch w.b[w.i] {
		case '\\':
			escaped = true
			w.i += 2
		case '"':
			w.i++
			return escaped
		default:
			w.i++
		}
	}
}

// FoldKey is the form under which encoding/json matches an object key to a
// struct field: every rune replaced by the smallest rune of its Unicode
// simple-folding orbit (encoding/json's foldName), so FoldKey(a) ==
// FoldKey(b) exactly when the decoder would treat a and b as one name.
func FoldKey(key string) string {
	var b strings.Builder
	b.Grow(len(key))
	for _, r := range key {
		b.WriteRune(foldRune(r))
	}
	return b.String()
}

// foldRune returns the smallest rune of r's simple-folding orbit.
func foldRune(r rune) rune {
	for {
		r2 := unicode.SimpleFold(r)
		if r2 <= r {
			return r2
		}
		r = r2
	}
}

// PayloadEqual tells whether a request body is the payload that was signed:
// byte-identical, or equal as strict JSON values (SDKs re-serialise). An
// empty payload, no body and {} are equal.
func PayloadEqual(signed, body []byte) bool {
	if bytes.Equal(signed, body) {
		return true
	}
	a, errA := ParseStrictJSON(emptyAsObject(signed))
	b, errB := ParseStrictJSON(emptyAsObject(body))
	if errA != nil || errB != nil {
		return false
	}
	return reflect.DeepEqual(a, b)
}

func emptyAsObject(b []byte) []byte {
	if len(bytes.TrimSpace(b)) == 0 {
		return []byte("{}")
	}
	return b
}
