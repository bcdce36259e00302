package mailer

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one e-mail: plain text, with an HTML alternative.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// Config names the SMTP server and the sender.
type Config struct {
	// URL is smtp://[user:password@]host[:port] (STARTTLS required, port
	// 587 by default) or smtps://[user:password@]host[:port] (TLS from the
	// first byte, port 465). smtp://…?tls=none sends in the clear, for a
	// relay on the same host or network only.
	URL string
	// From is the sender, an address with an optional name:
	// "countersign <auth@example.com>".
	From string
	// TLSConfig, when set, replaces the default TLS settings (the roots
	// to trust, for a test server). Its ServerName is filled in.
	TLSConfig *tls.Config
	// Timeout bounds one delivery: connecting, the dialogue, the data
	// (default 30 s).
	Timeout time.Duration
	// QueueSize bounds the messages waiting for Run (default 256).
	QueueSize int
	Logger    *slog.Logger
}

// server is a parsed Config.URL.
type server struct {
	host, username, password string
	port                     int
	implicitTLS, plain       bool
}

// Mailer sends messages now (Send) or in the background (Enqueue, Run).
// It is safe for concurrent use.
type Mailer struct {
	cfg   Config
	srv   server
	from  *mail.Address
	queue chan func(context.Context) (Message, bool)
	log   *slog.Logger
}

// New checks cfg and returns a Mailer. It does not connect.
func New(cfg Config) (*Mailer, error) {
	srv, err := parseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("mail from %q is not an e-mail address: %w", cfg.From, err)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 256
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Mailer{cfg: cfg, srv: srv, from: from, queue: make(chan func(context.Context) (Message, bool), cfg.QueueSize), log: cfg.Logger}, nil
}

// CheckURL tells what is wrong with an SMTP URL, for configuration checks.
func CheckURL(raw string) error {
	_, err := parseURL(raw)
	return err
}

// Redacted is an SMTP URL without its password, for logs.
func Redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "SMTP"
	}
	return u.Redacted()
}

func parseURL(raw string) (server, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Path != "" && u.Path != "/" {
		return server{}, fmt.Errorf("smtp url %q is not smtp://[user:password@]host[:port] or smtps://…", Redacted(raw))
	}
	s := server{host: u.Hostname()}
	switch u.Scheme {
	case "smtp":
		s.port = 587
	case "smtps":
		s.port, s.implicitTLS = 465, true
	default:
		return server{}, fmt.Errorf("smtp url scheme %q: want smtp (STARTTLS) or smtps (TLS)", u.Scheme)
	}
	if p := u.Port(); p != "" {
		if s.port, err = strconv.Atoi(p); err != nil || s.port < 1 || s.port > 65535 {
			return server{}, fmt.Errorf("smtp url port %q is not a port", p)
		}
	}
	q := u.Query()
	for k := range q {
		if k != "tls" {
			return server{}, fmt.Errorf("smtp url parameter %q is unknown (only tls=none)", k)
		}
	}
	switch q.Get("tls") {
	case "":
	case "none":
		if s.implicitTLS {
			return server{}, errors.New("smtp url: smtps with tls=none contradicts itself")
		}
		s.plain = true
	default:
		return server{}, fmt.Errorf("smtp url tls=%q: only tls=none (a local relay, in the clear) is known", q.Get("tls"))
	}
	if u.User != nil {
		s.username = u.User.Username()
		s.password, _ = u.User.Password()
	}
	if s.plain && s.username != "" {
		return server{}, errors.New("smtp url: a password is never sent in the clear (tls=none with a user)")
	}
	return s, nil
}

// Send delivers msg now, or tells why it could not.
func (m *Mailer) Send(ctx context.Context, msg Message) error {
	to, err := mail.ParseAddress(msg.To)
	if err != nil {
		return fmt.Errorf("recipient %q: %w", msg.To, err)
	}
	out := gomail.NewMsg()
	out.FromMailAddress(m.from)
	out.ToMailAddress(to)
	out.Subject(msg.Subject)
	out.SetBodyString(gomail.TypeTextPlain, msg.Text)
	if msg.HTML != "" {
		out.AddAlternativeString(gomail.TypeTextHTML, msg.HTML)
	}
	client, err := m.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	if err := client.DialAndSendWithContext(ctx, out); err != nil {
		return fmt.Errorf("send mail to %s via %s: %w", to.Address, net.JoinHostPort(m.srv.host, strconv.Itoa(m.srv.port)), err)
	}
	return nil
}

// client is a go-mail client for one delivery.
func (m *Mailer) client() (*gomail.Client, error) {
	opts := []gomail.Option{gomail.WithPort(m.srv.port), gomail.WithTimeout(m.cfg.Timeout)}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if m.cfg.TLSConfig != nil {
		tlsConfig = m.cfg.TLSConfig.Clone()
	}
	tlsConfig.ServerName = m.srv.host
	opts = append(opts, gomail.WithTLSConfig(tlsConfig))
	switch {
	case m.srv.implicitTLS:
		opts = append(opts, gomail.WithSSL())
	case m.srv.plain:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if m.srv.username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(m.srv.username), gomail.WithPassword(m.srv.password))
	}
	c, err := gomail.NewClient(m.srv.host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp client: %w", err)
	}
	return c, nil
}

// Enqueue hands msg to Run without waiting. It reports false, dropping
// msg, when the queue is full.
func (m *Mailer) Enqueue(msg Message) bool {
	return m.Later(func(context.Context) (Message, bool) { return msg, true })
}

// Later hands Run a job that composes a message (or decides there is
// none to send: false), so that a request answers in the same time
// whether a mail goes out or not, and whatever the job reads or writes to
// decide. It reports false, dropping the job, when the queue is full.
func (m *Mailer) Later(compose func(ctx context.Context) (Message, bool)) bool {
	select {
	case m.queue <- compose:
		return true
	default:
		m.log.Error("mail queue full: a message was dropped")
		return false
	}
}

// Run composes and delivers queued messages one by one until ctx ends;
// its owner starts it once and cancels ctx to stop it. A failed delivery
// is logged.
func (m *Mailer) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case compose := <-m.queue:
			msg, ok := compose(ctx)
			if !ok {
				continue
			}
			if err := m.Send(ctx, msg); err != nil {
				m.log.Error("deliver queued mail", "subject", msg.Subject, "cause", err.Error())
			}
		}
	}
}

// Host names the SMTP server, for the start-up line.
func (m *Mailer) Host() string {
	mode := "STARTTLS"
	switch {
	case m.srv.implicitTLS:
		mode = "TLS"
	case m.srv.plain:
		mode = "no TLS"
	}
	return fmt.Sprintf("%s (%s)", net.JoinHostPort(m.srv.host, strconv.Itoa(m.srv.port)), mode)
}

// IsAddress tells whether s is a bare e-mail address a mail can go to:
// usernames that are not (say, "admin") get their links by hand.
func IsAddress(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && !strings.ContainsAny(s, "<> ")
}
