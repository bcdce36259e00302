package webauthn

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// decodesInto tells whether encoding/json puts the value of key into a
// struct field tagged field.
func decodesInto(t testing.TB, key, field string) bool {
	t.Helper()
	typ := reflect.StructOf([]reflect.StructField{{Name: "F", Type: reflect.TypeFor[*int](), Tag: reflect.StructTag(`json:"` + field + `"`)}})
	v := reflect.New(typ)
	body, _ := json.Marshal(map[string]int{key: 1})
	if err := json.Unmarshal(body, v.Interface()); err != nil {
		t.Fatal(err)
	}
	return !v.Elem().Field(0).IsNil()
}

func TestPayloadEqual(t *testing.T) {
	cases := []struct {
		name         string
		signed, body string
		want         bool
	}{
		{"identical bytes are equal", `{"a":1}`, `{"a":1}`, true},
		{"reordered keys are equal", `{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, true},
		{"whitespace does not matter", `{"a":1}`, " {\n \"a\" : 1 }\n", true},
		{"an empty payload equals no body", ``, ``, true},
		{"an empty payload equals {}", ``, `{}`, true},
		{"{} equals an empty body", `{}`, ` `, true},
		{"a changed value differs", `{"a":1}`, `{"a":2}`, false},
		{"a changed number literal differs", `{"a":1}`, `{"a":1.0}`, false},
		{"an added key differs", `{"a":1}`, `{"a":1,"b":2}`, false},
		{"array order matters", `{"a":[1,2]}`, `{"a":[2,1]}`, false},
		{"a duplicate key is never equal", `{"a":1}`, `{"a":1,"a":1}`, false},
		{"a case-variant key is never equal", `{"a":1}`, `{"a":1,"A":1}`, false},
		{"invalid UTF-8 is never equal", "{\"a\":\"x\"}", "{\"a\":\"x\xff\"}", false},
		{"a type change differs", `{"a":"1"}`, `{"a":1}`, false},
		{"an empty payload differs from a real body", ``, `{"a":1}`, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := PayloadEqual([]byte(tc.signed), []byte(tc.body)); got != tc.want {
				t.Fatalf("PayloadEqual(%q, %q) = %v, want %v", tc.signed, tc.body, got, tc.want)
			}
		})
	}
}

func TestParseStrictJSON(t *testing.T) {
	for _, bad := range []string{
		`{"a":1,"a":2}`, `{"a":{"b":1,"B":2}}`, `[{"x":1,"X":1}]`, "\"\xff\"", `{"a":1} {}`, `{"a":`,
		// One field to encoding/json, two keys to JavaScript: U+017F LONG S
		// folds to s, U+212A KELVIN SIGN to k.
		`{"operations":["Auth:Users:Read"],"operationſ":["Auth:Users:Delete"]}`,
		`{"kind":"Key","Kind":"Fido2"}`,
		strings.Repeat("[", MaxJSONDepth+1) + strings.Repeat("]", MaxJSONDepth+1),
		`{"a":` + strings.Repeat(`{"a":`, MaxJSONDepth) + `1` + strings.Repeat("}", MaxJSONDepth+1),
	} {
		if _, err := ParseStrictJSON([]byte(bad)); !errors.Is(err, ErrStrictJSON) {
			t.Errorf("ParseStrictJSON(%.80q) = %v, want ErrStrictJSON", bad, err)
		}
		if err := CheckStrictJSON([]byte(bad)); !errors.Is(err, ErrStrictJSON) {
			t.Errorf("CheckStrictJSON(%.80q) = %v, want ErrStrictJSON", bad, err)
		}
	}
	for _, good := range []string{
		`{"a":[1,{"b":null}],"c":"ü"}`,
		strings.Repeat("[", MaxJSONDepth) + strings.Repeat("]", MaxJSONDepth),
		`{"straße":1,"strasse":2}`, // ß does not simply fold to ss: two fields to Go as well
	} {
		if _, err := ParseStrictJSON([]byte(good)); err != nil {
			t.Errorf("ParseStrictJSON(%.80q) refused valid JSON: %v", good, err)
		}
		if err := CheckStrictJSON([]byte(good)); err != nil {
			t.Errorf("CheckStrictJSON(%.80q) refused valid JSON: %v", good, err)
		}
	}
}

func TestDeepNestingIsCheap(t *testing.T) {
	// A megabyte of "[" once cost 0.7 s and ~450 MB of stack; the depth
	// bound stops the parse at the 65th level.
	body := []byte(strings.Repeat("[", 1<<20))
	allocs := testing.AllocsPerRun(1, func() {
		if _, err := ParseStrictJSON(body); !errors.Is(err, ErrStrictJSON) {
			t.Fatalf("err = %v", err)
		}
	})
	if allocs > 10_000 {
		t.Fatalf("refusing a deep body took %.0f allocations", allocs)
	}
	if allocs := testing.AllocsPerRun(1, func() {
		if err := CheckStrictJSON(body); !errors.Is(err, ErrStrictJSON) {
			t.Fatalf("CheckStrictJSON: err = %v", err)
		}
	}); allocs > 10_000 {
		t.Fatalf("CheckStrictJSON refusing a deep body took %.0f allocations", allocs)
	}
}

func TestFoldKeyMatchesTheDecoder(t *testing.T) {
	for _, tc := range []struct {
		key, field string
	}{
		{"operations", "operations"}, {"OPERATIONS", "operations"}, {"operationſ", "operations"},
		{"Kind", "kind"}, {"name", "Name"}, {"straße", "strasse"}, {"ǅ", "ǆ"},
	} {
		decoded := decodesInto(t, tc.key, tc.field)
		if folded := FoldKey(tc.key) == FoldKey(tc.field); folded != decoded {
			t.Errorf("key %q, field %q: FoldKey equal = %v, encoding/json matched = %v", tc.key, tc.field, folded, decoded)
		}
	}
}

func TestActionPath(t *testing.T) {
	for in, want := range map[string]string{
		"/auth/pats":                   "/auth/pats",
		"/auth/service-accounts/x?f=1": "/auth/service-accounts/x",
		"/a%2Fb":                       "/a%2Fb",
		"/a#frag":                      "/a",
	} {
		if got := ActionPath(in); got != want {
			t.Errorf("ActionPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestManyKeysAreCheapToCheck: an object of many keys (a body of the size
// the server admits holds a hundred thousand) is checked against a map of
// its folded keys, not by comparing each key with every other, and a
// duplicate is found on either side of the switch to the map.
func TestManyKeysAreCheapToCheck(t *testing.T) {
	var b strings.Builder
	b.WriteString("{")
	const n = 100_000
	for i := range n {
		fmt.Fprintf(&b, `"k%d":0,`, i)
	}
	many := b.String()
	if err := CheckStrictJSON([]byte(many[:len(many)-1] + "}")); err != nil {
		t.Fatalf("CheckStrictJSON refused %d distinct keys: %v", n, err)
	}
	for _, dup := range []string{"K3", "K17", fmt.Sprintf("K%d", n-1)} {
		if err := CheckStrictJSON([]byte(many + `"` + dup + `":1}`)); !errors.Is(err, ErrStrictJSON) {
			t.Fatalf("CheckStrictJSON missed %s among %d keys: %v", dup, n, err)
		}
	}
	var f foldedKeys
	for i := range foldedSliceMax + 2 {
		if _, dup := f.add(fmt.Sprintf("k%d", i)); dup {
			t.Fatalf("k%d reported as a duplicate", i)
		}
	}
	if len(f.byFold) != foldedSliceMax+2 {
		t.Fatalf("after %d keys the map holds %d: the keys are still compared one by one", foldedSliceMax+2, len(f.byFold))
	}
	if first, dup := f.add("K1"); !dup || first != "k1" {
		t.Fatalf(`add("K1") = %q, %v; want "k1", true`, first, dup)
	}
}
