package aaguid

import (
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
)

//go:embed providers.json
var providersJSON []byte

// Provider is what the list says about one AAGUID.
type Provider struct {
	Name string `json:"name"`
}

type list struct {
	Source    string              `json:"source"`
	Providers map[string]Provider `json:"providers"`
}

var (
	loaded  list
	loadErr error
	once    sync.Once
)

func load() (list, error) {
	once.Do(func() {
		if err := json.Unmarshal(providersJSON, &loaded); err != nil {
			loadErr = fmt.Errorf("aaguid: parse providers.json: %w", err)
		}
	})
	return loaded, loadErr
}

// Source says where the embedded list came from (package and version).
func Source() string {
	l, _ := load()
	return l.Source
}

// Len is how many AAGUIDs the embedded list names.
func Len() int {
	l, _ := load()
	return len(l.Providers)
}

// String formats a 16-byte AAGUID as a lowercase UUID; anything else is "".
func String(aaguid []byte) string {
	if len(aaguid) != 16 {
		return ""
	}
	h := hex.EncodeToString(aaguid)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// Lookup names the authenticator of a 16-byte AAGUID. The all-zero AAGUID
// (an authenticator that does not say what it is) and unknown ones are not
// found.
func Lookup(aaguid []byte) (Provider, bool) {
	return LookupString(String(aaguid))
}

// LookupString is Lookup for an AAGUID written as a UUID, in any case.
func LookupString(uuid string) (Provider, bool) {
	l, err := load()
	if err != nil || uuid == "" {
		return Provider{}, false
	}
	p, ok := l.Providers[strings.ToLower(uuid)]
	return p, ok
}

// Names is the whole list as {AAGUID: name}, for a client that names a new
// passkey itself.
func Names() map[string]string {
	l, _ := load()
	out := make(map[string]string, len(l.Providers))
	for id, p := range l.Providers {
		out[id] = p.Name
	}
	return out
}
