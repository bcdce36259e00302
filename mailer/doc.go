// Package mailer delivers countersign's e-mails (invitations, registration
// code resends, recovery verification codes, reset links) to an SMTP server
// with github.com/wneessen/go-mail, over STARTTLS or TLS unless a local
// relay is named explicitly. It knows nothing of what the mails say: the
// server composes them. It imports nothing of countersign's.
package mailer
