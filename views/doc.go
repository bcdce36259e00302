// Package views holds countersign's HTML pages as templ components
// (*.templ, with their committed generated *_templ.go) and the view models
// they render. Each page takes one model shaped like the page: plain strings,
// bools and ready-made URLs.
//
// Pages carry no inline script or style (the CSP allows only 'self'):
// behaviour comes from /static/app.js, which reads endpoint URLs and data
// from data-* attributes, and the look from /static/app.css. Elements the
// tests look for carry data-testid.
//
// It imports nothing of ours: no store, no Echo, no request access.
package views
