package guard

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// refetchEvery bounds how often an unknown key id makes the guard fetch
// the JWKS again (countersign may have rotated its signing key).
const refetchEvery = 10 * time.Second

// fetchTimeout bounds one fetch of the JWKS.
const fetchTimeout = 10 * time.Second

// keySet caches countersign's public keys by key id. A key it holds is
// read without waiting for anything; an unknown one starts at most one
// fetch at a time, which the requests needing it wait for (or for their
// own end).
type keySet struct {
	url    string
	client *http.Client
	now    func() time.Time

	mu       sync.Mutex
	keys     map[string]*ecdsa.PublicKey
	fetched  time.Time
	inflight *fetchCall // the fetch under way, nil when none
}

// fetchCall is one fetch of the JWKS; err is set before done is closed.
type fetchCall struct {
	done chan struct{}
	err  error
}

func (s *keySet) get(ctx context.Context, kid string) (*ecdsa.PublicKey, error) {
	s.mu.Lock()
	if k, ok := s.keys[kid]; ok {
		s.mu.Unlock()
		return k, nil
	}
	call := s.inflight
	if call == nil {
		if !s.fetched.IsZero() && s.now().Sub(s.fetched) < refetchEvery {
			s.mu.Unlock()
			return nil, fmt.Errorf("unknown key id %q", kid)
		}
		call = &fetchCall{done: make(chan struct{})}
		s.inflight = call
		// Not the request's context: a client that goes away must not
		// fail the fetch for the others (and keep the keys unknown until
		// the next refetch).
		go s.fetch(context.WithoutCancel(ctx), call)
	}
	s.mu.Unlock()
	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("waiting for the JWKS: %w", ctx.Err())
	}
	if call.err != nil {
		return nil, call.err
	}
	s.mu.Lock()
	k, ok := s.keys[kid]
	s.mu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown key id %q", kid)
	}
	return k, nil
}

// fetch fetches the JWKS without holding the lock, then publishes it.
func (s *keySet) fetch(ctx context.Context, call *fetchCall) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	keys, err := fetchJWKS(ctx, s.client, s.url)
	s.mu.Lock()
	s.fetched = s.now()
	if err == nil {
		s.keys = keys
	}
	s.inflight = nil
	s.mu.Unlock()
	call.err = err
	close(call.done)
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	Kid string `json:"kid"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

func fetchJWKS(ctx context.Context, client *http.Client, url string) (map[string]*ecdsa.PublicKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: %s answered %d", url, res.StatusCode)
	}
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys := map[string]*ecdsa.PublicKey{}
	for _, k := range doc.Keys {
		if k.Kty != "EC" || k.Crv != "P-256" || k.Kid == "" {
			continue
		}
		x, errX := base64.RawURLEncoding.DecodeString(k.X)
		y, errY := base64.RawURLEncoding.DecodeString(k.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			continue
		}
		// ParseUncompressedPublicKey refuses a point off the curve.
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			continue
		}
		keys[k.Kid] = pub
	}
	return keys, nil
}
