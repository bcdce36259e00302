package server

import (
	"bytes"
	"context"
	"fmt"
	htmltemplate "html/template"
	"net/http"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"

	"countersign/mailer"
)

// Mailer delivers e-mail (mailer.Mailer). Nil in Options means no SMTP
// server is configured: the routes that can only mail answer 501 naming
// the setting, and the others show the link to hand over instead.
type Mailer interface {
	Send(ctx context.Context, m mailer.Message) error
	Later(compose func(ctx context.Context) (mailer.Message, bool)) bool
}

// errNoMail is the answer of a route that can only reach a person by
// e-mail when none is configured.
func errNoMail(what string) *APIError {
	return &APIError{
		Status: http.StatusNotImplemented, Code: "mail_not_configured",
		Message: fmt.Sprintf("this server sends no e-mail (--smtp-url is not set), so it cannot send %s: ask an administrator", what),
	}
}

// canMail tells whether a mail can go to username: e-mail is configured
// and the username is an address ("admin" gets its links by hand).
func (s *Server) canMail(username string) bool {
	return s.opts.Mail != nil && mailer.IsAddress(username)
}

// mailLimits throttle the requests that make countersign write to someone
// who did not ask (anybody can name any username): a few per account,
// whatever address asks, and per address, whatever account it names, so
// that nobody can flood a mailbox or turn the server into a mail cannon.
// They hold for unknown usernames too, which therefore answer alike.
type mailLimits struct {
	perAccount *limiter
	perAddress *limiter
}

func newMailLimits(every time.Duration) mailLimits {
	return mailLimits{
		perAccount: newLimiterEvery(every, 3, "this account"),
		perAddress: newLimiterEvery(every/3, 10, "this address"),
	}
}

// allowMail takes one mail from the account's and the address's budgets.
func (s *Server) allowMail(address, kind, orgID, username string) error {
	if err := s.mailLimits.perAddress.allow("mail\x00" + address); err != nil {
		return err
	}
	return s.mailLimits.perAccount.allow(kind + "\x00" + orgID + "\x00" + strings.ToLower(strings.TrimSpace(username)))
}

// link is a console URL at the public origin.
func (s *Server) link(path string, q url.Values) string {
	u := s.opts.Origins[0] + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// mailView is what every template fills in.
type mailView struct {
	Username  string
	Org       string
	Link      string
	Code      string
	ExpiresIn string
	Issuer    string
}

// mailTemplate is one kind of mail: its subject, plain text and HTML.
type mailTemplate struct {
	subject string
	text    *texttemplate.Template
	html    *htmltemplate.Template
}

func newMailTemplate(name, subject, text, html string) mailTemplate {
	return mailTemplate{
		subject: subject,
		text:    texttemplate.Must(texttemplate.New(name).Parse(text)),
		html:    htmltemplate.Must(htmltemplate.New(name).Parse(mailHTMLHead + html + mailHTMLFoot)),
	}
}

// message fills the template in for one recipient.
func (t mailTemplate) message(to string, v mailView) (mailer.Message, error) {
	var text, html bytes.Buffer
	if err := t.text.Execute(&text, v); err != nil {
		return mailer.Message{}, fmt.Errorf("mail %s text: %w", t.text.Name(), err)
	}
	if err := t.html.Execute(&html, v); err != nil {
		return mailer.Message{}, fmt.Errorf("mail %s html: %w", t.html.Name(), err)
	}
	return mailer.Message{To: to, Subject: t.subject, Text: text.String(), HTML: html.String()}, nil
}

func expiresIn(d time.Duration) string {
	switch {
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Round(time.Hour)/time.Hour))
	case d >= 2*time.Minute:
		return fmt.Sprintf("%d minutes", int(d.Round(time.Minute)/time.Minute))
	}
	return fmt.Sprintf("%d seconds", int(d.Round(time.Second)/time.Second))
}

const (
	mailHTMLHead = `<!DOCTYPE html><html lang="en"><body style="font-family: system-ui, sans-serif; line-height: 1.5; color: #1b1f2a; max-width: 36em">`
	mailHTMLFoot = `<p style="color: #5b6272; font-size: 0.9em">countersign · passkey sign-in</p></body></html>`
	mailFooter   = "\n-- \ncountersign · passkey sign-in\n"
)

var (
	mailInvitation = newMailTemplate("invitation", "Create your passkey for countersign",
		`Hello,

You were invited to {{.Org}} on countersign as {{.Username}}.
Open this link within {{.ExpiresIn}} to create your passkey:

  {{.Link}}

The link works once. If you did not expect this invitation, ignore this e-mail.
`+mailFooter,
		`<p>Hello,</p><p>You were invited to <b>{{.Org}}</b> on countersign as <b>{{.Username}}</b>.
Open this link within {{.ExpiresIn}} to create your passkey:</p>
<p><a href="{{.Link}}">Create your passkey</a></p><p style="font-size: 0.9em">{{.Link}}</p>
<p>The link works once. If you did not expect this invitation, ignore this e-mail.</p>`)

	mailResend = newMailTemplate("resend", "Your new countersign registration link",
		`Hello,

Here is a new link to create the passkey of {{.Username}} on {{.Org}}; the
previous one no longer works. Open it within {{.ExpiresIn}}:

  {{.Link}}

If you did not ask for it, ignore this e-mail: nothing else changed.
`+mailFooter,
		`<p>Hello,</p><p>Here is a new link to create the passkey of <b>{{.Username}}</b> on <b>{{.Org}}</b>;
the previous one no longer works. Open it within {{.ExpiresIn}}:</p>
<p><a href="{{.Link}}">Create your passkey</a></p><p style="font-size: 0.9em">{{.Link}}</p>
<p>If you did not ask for it, ignore this e-mail: nothing else changed.</p>`)

	mailRecoveryCode = newMailTemplate("recovery-code", "Your countersign verification code",
		`Hello,

Someone, hopefully you, asked to recover the account {{.Username}} on {{.Org}}.
Your verification code, valid for {{.ExpiresIn}}:

  {{.Code}}

Enter it with your recovery code at {{.Link}}

If it was not you, ignore this e-mail: without your recovery code nobody
can use it, and your passkeys keep working.
`+mailFooter,
		`<p>Hello,</p><p>Someone, hopefully you, asked to recover the account <b>{{.Username}}</b> on <b>{{.Org}}</b>.
Your verification code, valid for {{.ExpiresIn}}:</p>
<p style="font-size: 1.4em; font-family: ui-monospace, monospace; letter-spacing: 0.05em"><b>{{.Code}}</b></p>
<p>Enter it with your recovery code at <a href="{{.Link}}">{{.Link}}</a></p>
<p>If it was not you, ignore this e-mail: without your recovery code nobody can use it, and your passkeys keep working.</p>`)

	mailNoRecoveryKey = newMailTemplate("no-recovery-key", "Recovering your countersign account",
		`Hello,

Someone, hopefully you, asked to recover the account {{.Username}} on {{.Org}}.
This account has no recovery code, so it cannot be recovered by itself:
ask an administrator of {{.Org}} for a reset link.

If it was not you, ignore this e-mail: nothing changed.
`+mailFooter,
		`<p>Hello,</p><p>Someone, hopefully you, asked to recover the account <b>{{.Username}}</b> on <b>{{.Org}}</b>.
This account has no recovery code, so it cannot be recovered by itself: ask an administrator of {{.Org}} for a reset link.</p>
<p>If it was not you, ignore this e-mail: nothing changed.</p>`)

	mailReset = newMailTemplate("reset", "Reset the passkeys of your countersign account",
		`Hello,

{{.Issuer}} issued a link to reset the passkeys of {{.Username}} on {{.Org}}.
Open it within {{.ExpiresIn}} to create a new passkey:

  {{.Link}}

Creating it retires every earlier passkey, key and access token of the
account, and signs out every session. If you did not ask for this, tell
your administrator and do not open the link.
`+mailFooter,
		`<p>Hello,</p><p>{{.Issuer}} issued a link to reset the passkeys of <b>{{.Username}}</b> on <b>{{.Org}}</b>.
Open it within {{.ExpiresIn}} to create a new passkey:</p>
<p><a href="{{.Link}}">Create a new passkey</a></p><p style="font-size: 0.9em">{{.Link}}</p>
<p>Creating it retires every earlier passkey, key and access token of the account, and signs out every session.
If you did not ask for this, tell your administrator and do not open the link.</p>`)
)

// orgName names an organisation in a mail, falling back to its id.
func (s *Server) orgName(ctx context.Context, orgID string) string {
	if o, err := s.store.GetOrg(ctx, orgID); err == nil && o.Name != "" {
		return o.Name
	}
	return orgID
}
