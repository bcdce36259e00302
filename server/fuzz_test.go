package server

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// FuzzCheckSignedBody: a signed body that passes the route check holds
// only keys that are exactly JSON names of the route's request struct, at
// every level, so encoding/json reads exactly what a JavaScript reader of
// the signed payload reads.
func FuzzCheckSignedBody(f *testing.F) {
	for _, s := range []string{
		`{"name":"ci","publicKey":"x","permissionId":"pm-1"}`,
		`{"name":"ci","Name":"x"}`, `{"nam\u017f":"x"}`, `{"name":"x","junk":1}`,
		`{"credentialKind":"Key","credentialInfo":{"credId":"a","clientData":"b","attestationData":"c","CredId":"d"}}`,
		`{"credentialInfo":{"transports":["usb",{"x":1}]}}`, `{"operations":["Auth:Users:Read"]}`,
		`{"operation\u017f":["Auth:Users:Delete"]}`, strings.Repeat("[", 100), `{}`, ``, `[]`, `"x"`,
	} {
		f.Add([]byte(s), uint8(0))
	}
	types := []reflect.Type{
		reflect.TypeFor[tokenKey](), reflect.TypeFor[createCredentialRequest](),
		reflect.TypeFor[createPermissionRequest](), reflect.TypeFor[struct{}](), reflect.TypeFor[createServiceAccountRequest](),
	}
	f.Fuzz(func(t *testing.T, body []byte, which uint8) {
		typ := types[int(which)%len(types)]
		if err := checkSignedBody(body, typ); err != nil || len(body) == 0 {
			return
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("accepted a body encoding/json cannot read: %v", err)
		}
		if bad := inexactKey(v, typ); bad != "" {
			t.Fatalf("accepted key %q for %v in %q", bad, typ, body)
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(reflect.New(typ).Interface()); err != nil && strings.Contains(err.Error(), "unknown field") {
			t.Fatalf("accepted a body with an unknown field: %v", err)
		}
	})
}

// inexactKey returns a key of v that is not exactly a JSON field name of t
// where t expects an object, or "".
func inexactKey(v any, t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		fields := jsonFields(t)
		for k, val := range obj {
			ft, ok := fields[k]
			if !ok {
				return k
			}
			if bad := inexactKey(val, ft); bad != "" {
				return bad
			}
		}
	case reflect.Slice:
		if arr, ok := v.([]any); ok {
			for _, el := range arr {
				if bad := inexactKey(el, t.Elem()); bad != "" {
					return bad
				}
			}
		}
	}
	return ""
}
