package server

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"
)

// limiter is a token bucket per key (echo's RateLimiterMemoryStore over
// golang.org/x/time/rate, which forgets keys unseen for three minutes):
// perSecond requests a second, bursts of three seconds' worth. A nil
// limiter allows everything.
type limiter struct {
	buckets *middleware.RateLimiterMemoryStore
	every   time.Duration // how long one request's token takes to come back
	what    string        // "this address", "this account": for the message
}

func newLimiter(perSecond float64, what string) *limiter {
	if perSecond <= 0 {
		return nil
	}
	return &limiter{
		buckets: middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate: rate.Limit(perSecond), Burst: max(1, int(3*perSecond)),
		}),
		every: time.Duration(float64(time.Second) / perSecond),
		what:  what,
	}
}

// newLimiterEvery is a bucket per key that refills one request every
// every, holding at most burst.
func newLimiterEvery(every time.Duration, burst int, what string) *limiter {
	return &limiter{
		buckets: middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
			Rate: rate.Every(every), Burst: burst, ExpiresIn: 10 * every,
		}),
		every: every,
		what:  what,
	}
}

// allow takes one token for key, or answers 429 with the time until the
// next one.
func (l *limiter) allow(key string) error {
	if l == nil {
		return nil
	}
	if ok, _ := l.buckets.Allow(key); ok {
		return nil
	}
	return &APIError{
		Status: http.StatusTooManyRequests, Code: "rate_limited", RetryAfter: max(l.every, time.Second),
		Message: fmt.Sprintf("too many requests from %s, slow down", l.what),
	}
}

// limitAddress throttles the unauthenticated ceremony routes per client IP:
// the connection's peer, never a forwarded header (Echo's IPExtractor).
func (s *Server) limitAddress(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.perAddress.allow(c.RealIP()); err != nil {
			return err
		}
		return next(c)
	}
}

// limitIdentity throttles an authenticated identity's ceremonies (action
// and credential challenges, action signatures), whatever address it comes
// from. It runs after authenticate.
func (s *Server) limitIdentity(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.perAccount.allow("identity\x00" + callerFrom(c).identity().ID); err != nil {
			return err
		}
		return next(c)
	}
}

// limitAccount throttles the ceremonies that name an account (login and
// registration by username), whatever addresses they come from.
func (s *Server) limitAccount(orgID, username string) error {
	if username = strings.TrimSpace(username); username == "" {
		return nil
	}
	return s.perAccount.allow("account\x00" + orgID + "\x00" + strings.ToLower(username))
}
