package webauthn

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"unicode/utf8"
)

// ErrStrictJSON: a body that is not strict JSON: invalid UTF-8, a duplicate
// key, two keys that differ only in case, or trailing data.
var ErrStrictJSON = errors.New("body is not strict JSON")

// ParseStrictJSON parses one JSON value and refuses what would let two
// parsers disagree about it: invalid UTF-8, duplicate keys and keys that
// differ only in case (Go's decoder matches struct fields
// case-insensitively, so {"name":…,"Name":…} is ambiguous). Numbers stay
// json.Number, compared by their literal.
func ParseStrictJSON(b []byte) (any, error) {
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("invalid UTF-8: %w", ErrStrictJSON)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	v, err := strictValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("data after the JSON value: %w", ErrStrictJSON)
	}
	return v, nil
}

func strictValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStrictJSON, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return strictObject(dec)
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := strictValue(dec)
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
		return nil, fmt.Errorf("unexpected %v: %w", t, ErrStrictJSON)
	default:
		return t, nil
	}
}

func strictObject(dec *json.Decoder) (any, error) {
	obj := map[string]any{}
	folded := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrStrictJSON, err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key is not a string: %w", ErrStrictJSON)
		}
		if folded[strings.ToLower(key)] {
			return nil, fmt.Errorf("duplicate or case-variant key %q: %w", key, ErrStrictJSON)
		}
		folded[strings.ToLower(key)] = true
		v, err := strictValue(dec)
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
