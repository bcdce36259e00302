package webauthn

import (
	"errors"
	"testing"
)

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
	for _, bad := range []string{`{"a":1,"a":2}`, `{"a":{"b":1,"B":2}}`, `[{"x":1,"X":1}]`, "\"\xff\"", `{"a":1} {}`, `{"a":`} {
		if _, err := ParseStrictJSON([]byte(bad)); !errors.Is(err, ErrStrictJSON) {
			t.Errorf("ParseStrictJSON(%q) = %v, want ErrStrictJSON", bad, err)
		}
	}
	if _, err := ParseStrictJSON([]byte(`{"a":[1,{"b":null}],"c":"ü"}`)); err != nil {
		t.Errorf("valid JSON refused: %v", err)
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
