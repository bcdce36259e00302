// Package static holds the console's browser assets, embedded in the binary:
// app.js (the one ES module: passkey registration and sign-in) and app.css.
// There is no build step; what is here is what the browser gets.
//
// It imports nothing of ours.
package static

import "embed"

// FS holds app.js and app.css at its root, served under /static/.
//
//go:embed app.js app.css
var FS embed.FS
