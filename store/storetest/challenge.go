package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"countersign/store"
)

// consumers is how many goroutines race for one challenge, in each of
// rounds rounds.
const (
	consumers = 20
	rounds    = 5
)

var challengeTests = []test{
	{"consume returns the created challenge whole", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		c := newChallenge("ch-1", u)
		mustCreateChallenge(t, s, c)

		got, err := s.ConsumeChallenge(t.Context(), c.ID, at(time.Minute))
		must(t, "ConsumeChallenge", err)
		equal(t, "challenge", got, c)
	}},
	{"a usernameless challenge without data round-trips", func(t *testing.T, s store.Store) {
		c := store.Challenge{ID: "ch-1", Purpose: store.PurposeLogin, Challenge: "abc", CreatedAt: t0, ExpiresAt: at(time.Minute)}
		mustCreateChallenge(t, s, c)

		got, err := s.ConsumeChallenge(t.Context(), c.ID, t0)
		must(t, "ConsumeChallenge", err)
		equal(t, "challenge", got, c)
	}},
	{"a consumed challenge cannot be consumed again", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		c := newChallenge("ch-1", u)
		mustCreateChallenge(t, s, c)

		_, err := s.ConsumeChallenge(t.Context(), c.ID, t0)
		must(t, "first ConsumeChallenge", err)
		_, err = s.ConsumeChallenge(t.Context(), c.ID, t0)
		wantErr(t, "second ConsumeChallenge", err, store.ErrNotFound)
	}},
	{"an expired challenge is not found and is gone", func(t *testing.T, s store.Store) {
		// No seed: the sweep below must find nothing else to delete.
		c := newChallenge("ch-1", newUser("us-1", "or-1", "alice@example.com"))
		mustCreateChallenge(t, s, c)

		_, err := s.ConsumeChallenge(t.Context(), c.ID, c.ExpiresAt.Add(time.Second))
		wantErr(t, "ConsumeChallenge after expiry", err, store.ErrNotFound)
		// Gone, not merely refused: a clock before the expiry does not bring
		// it back, and the sweep finds nothing left.
		_, err = s.ConsumeChallenge(t.Context(), c.ID, t0)
		wantErr(t, "ConsumeChallenge before expiry", err, store.ErrNotFound)
		n, err := s.DeleteExpired(t.Context(), at(24*time.Hour))
		must(t, "DeleteExpired", err)
		equal(t, "rows swept", n, 0)
	}},
	{"an unknown challenge is not found", func(t *testing.T, s store.Store) {
		_, err := s.ConsumeChallenge(t.Context(), "ch-unknown", t0)
		wantErr(t, "ConsumeChallenge", err, store.ErrNotFound)
	}},
	{"a taken challenge id is a conflict", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		c := newChallenge("ch-1", u)
		mustCreateChallenge(t, s, c)
		err := s.CreateChallenge(t.Context(), newChallenge("ch-1", u))
		wantErr(t, "CreateChallenge", err, store.ErrConflict)
	}},
	{"exactly one of many concurrent consumers gets the challenge", func(t *testing.T, s store.Store) {
		_, u := seed(t, s)
		// Several rounds, each on its own challenge, to give a non-atomic
		// consume more than one chance to let two consumers through.
		for round := range rounds {
			c := newChallenge(fmt.Sprintf("ch-%d", round), u)
			mustCreateChallenge(t, s, c)

			start := make(chan struct{})
			errs := make([]error, consumers)
			var wg sync.WaitGroup
			for i := range consumers {
				wg.Go(func() {
					<-start
					_, errs[i] = s.ConsumeChallenge(t.Context(), c.ID, t0)
				})
			}
			close(start)
			wg.Wait()

			won := 0
			for i, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, store.ErrNotFound):
					t.Errorf("round %d, consumer %d: got error %v, want nil or %v", round, i, err, store.ErrNotFound)
				}
			}
			equal(t, fmt.Sprintf("round %d: consumers that got the challenge", round), won, 1)
		}
	}},
}
