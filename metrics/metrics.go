package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "countersign"

// Metrics is every metric of one countersign process, in its own registry
// (never the global one, so tests and several servers in one process do not
// share counters). Its methods are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec
	rateLimited  *prometheus.CounterVec

	ceremonies      *prometheus.CounterVec
	actionsIssued   prometheus.Counter
	actionsConsumed prometheus.Counter
	actionsRefused  *prometheus.CounterVec

	storeOps      *prometheus.CounterVec
	storeDuration *prometheus.HistogramVec

	upstreamRequests *prometheus.CounterVec
	upstreamDuration *prometheus.HistogramVec
}

// New registers every metric, the Go runtime's and the process's, in a
// fresh registry.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{reg: reg}

	m.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "http_requests_total",
		Help: "HTTP requests answered, by route pattern (\"unmatched\" outside the route table), method and status.",
	}, []string{"route", "method", "status"})
	m.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "http_request_duration_seconds",
		Help:    "Time from a request's arrival at the router to its answer, by route pattern and method.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route", "method"})
	m.rateLimited = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "rate_limited_total",
		Help: "Requests refused by a rate limit (429), by route pattern.",
	}, []string{"route"})

	m.ceremonies = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "ceremonies_total",
		Help: "Finished ceremonies (registration, login, action, credential) by outcome: \"success\" or the error code answered.",
	}, []string{"ceremony", "outcome"})
	m.actionsIssued = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "user_actions_issued_total",
		Help: "User-action tokens issued (a signed challenge exchanged at /auth/action).",
	})
	m.actionsConsumed = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: namespace, Name: "user_actions_consumed_total",
		Help: "User-action tokens consumed by the signed change they authorised.",
	})
	m.actionsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "user_actions_refused_total",
		Help: "Requests to signed routes that were refused, by reason (the error code answered); their user action, if any, was not consumed.",
	}, []string{"reason"})

	m.storeOps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "store_operations_total",
		Help: "Store operations by method and result (ok, not_found, conflict, refused, error).",
	}, []string{"op", "result"})
	m.storeDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "store_operation_duration_seconds",
		Help:    "Latency of store operations, by method.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14), // 0.5 ms to 4 s
	}, []string{"op"})

	// The gateway (server/gateway.go) calls Upstream once per forwarded
	// request.
	m.upstreamRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "gateway_upstream_requests_total",
		Help: "Requests the gateway forwarded, by upstream name and status (\"unreachable\", \"timeout\" when none came).",
	}, []string{"upstream", "status"})
	m.upstreamDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "gateway_upstream_duration_seconds",
		Help:    "Time the gateway's upstreams took to answer, by upstream name.",
		Buckets: prometheus.DefBuckets,
	}, []string{"upstream"})

	for _, c := range []prometheus.Collector{
		m.httpRequests, m.httpDuration, m.rateLimited, m.ceremonies, m.actionsIssued, m.actionsConsumed,
		m.actionsRefused, m.storeOps, m.storeDuration, m.upstreamRequests, m.upstreamDuration,
	} {
		reg.MustRegister(c)
	}
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Gatherer exposes the registry, for tests that read values back.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Request counts one answered HTTP request. route is a pattern of the route
// table or "unmatched"; method one of the standard methods or "OTHER".
func (m *Metrics) Request(route, method string, status int, d time.Duration) {
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	m.httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
	if status == http.StatusTooManyRequests {
		m.rateLimited.WithLabelValues(route).Inc()
	}
}

// Ceremony counts a finished ceremony by outcome: "success" or an error code.
func (m *Metrics) Ceremony(name, outcome string) {
	m.ceremonies.WithLabelValues(name, outcome).Inc()
}

// UserActionIssued counts a user-action token handed out.
func (m *Metrics) UserActionIssued() { m.actionsIssued.Inc() }

// UserActionConsumed counts a user action spent on its change.
func (m *Metrics) UserActionConsumed() { m.actionsConsumed.Inc() }

// UserActionRefused counts a signed request refused, by error code.
func (m *Metrics) UserActionRefused(reason string) { m.actionsRefused.WithLabelValues(reason).Inc() }

// Upstream counts one request the gateway forwarded to upstream: status is
// its HTTP status, or "unreachable", "timeout" or "cancelled".
func (m *Metrics) Upstream(upstream, status string, d time.Duration) {
	m.upstreamRequests.WithLabelValues(upstream, status).Inc()
	m.upstreamDuration.WithLabelValues(upstream).Observe(d.Seconds())
}
