// Package metrics owns countersign's Prometheus metrics: one registry with
// the Go runtime and process collectors, the counters and histograms the
// HTTP edge, the ceremonies and the store report to, and the handler that
// serves them on the separate metrics listener (--metrics-listen).
//
// Label values are always from a fixed set chosen by the caller (a route
// pattern of the route table, a ceremony name, an error code, a store method
// name), never a raw path or anything a client sends, so the number of
// series stays bounded whatever the traffic.
//
// It imports only store (to time its methods and classify its errors).
package metrics
