// Package mailertest runs a real SMTP server (github.com/emersion/go-smtp)
// in the test's process, with STARTTLS on a certificate made for the test,
// and hands each message it receives to the test, parsed into its plain
// text and HTML parts. Tests use it to read the mails countersign sends.
package mailertest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"countersign/mailer"
)

// Received is one message the server accepted.
type Received struct {
	From    string
	To      []string
	Subject string
	Text    string // the text/plain part, decoded
	HTML    string // the text/html part, decoded
	TLS     bool   // the session had switched to TLS before MAIL FROM
}

// Server is an SMTP server listening on 127.0.0.1 for one test.
type Server struct {
	Addr string      // host:port
	TLS  *tls.Config // what a client must trust to reach it
	got  chan Received
}

// Start runs a server until the test ends. With plain, it offers no
// STARTTLS (a local relay); otherwise it requires TLS before any mail.
func Start(t testing.TB, plain bool) *Server {
	t.Helper()
	cert, pool := certificate(t)
	s := &Server{got: make(chan Received, 64)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &session{s: s, conn: c, requireTLS: !plain}, nil
	}))
	srv.Domain = "localhost"
	srv.ReadTimeout, srv.WriteTimeout = time.Minute, time.Minute
	srv.MaxMessageBytes = 1 << 20
	if !plain {
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		s.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtp listen: %v", err)
	}
	s.Addr = ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Errorf("smtp serve: %v", err)
		}
	})
	return s
}

// URL is the --smtp-url that reaches the server.
func (s *Server) URL() string {
	if s.TLS == nil {
		return "smtp://" + s.Addr + "?tls=none"
	}
	return "smtp://" + s.Addr
}

// Mailer is a mailer.Mailer that delivers to the server, trusting its
// certificate.
func (s *Server) Mailer(t testing.TB) *mailer.Mailer {
	t.Helper()
	m, err := mailer.New(mailer.Config{URL: s.URL(), From: "countersign <auth@example.com>", TLSConfig: s.TLS})
	if err != nil {
		t.Fatalf("mailer.New: %v", err)
	}
	return m
}

// Next waits for the next message; it fails the test if the test's context
// ends first (the test timed out).
func (s *Server) Next(t testing.TB) Received {
	t.Helper()
	select {
	case m := <-s.got:
		return m
	case <-t.Context().Done():
		t.Fatal("no mail arrived before the test ended")
		return Received{}
	}
}

// Pending returns the messages received and not yet read, without waiting.
func (s *Server) Pending() []Received {
	var out []Received
	for {
		select {
		case m := <-s.got:
			out = append(out, m)
		default:
			return out
		}
	}
}

type session struct {
	s          *Server
	conn       *smtp.Conn
	requireTLS bool
	from       string
	to         []string
}

func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	if _, isTLS := ss.conn.TLSConnectionState(); ss.requireTLS && !isTLS {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "STARTTLS first"}
	}
	ss.from = from
	return nil
}

func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *session) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m, err := parse(raw)
	if err != nil {
		return &smtp.SMTPError{Code: 554, Message: err.Error()}
	}
	_, m.TLS = ss.conn.TLSConnectionState()
	m.From, m.To = ss.from, ss.to
	ss.s.got <- m
	return nil
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }

// parse reads a message's subject and its text and HTML parts.
func parse(raw []byte) (Received, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Received{}, fmt.Errorf("read message: %w", err)
	}
	var out Received
	dec := new(mime.WordDecoder)
	if out.Subject, err = dec.DecodeHeader(msg.Header.Get("Subject")); err != nil {
		return Received{}, fmt.Errorf("subject: %w", err)
	}
	err = walk(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, &out)
	return out, err
}

func walk(contentType, encoding string, body io.Reader, out *Received) error {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return fmt.Errorf("content type %q: %w", contentType, err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("part: %w", err)
			}
			if err := walk(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, out); err != nil {
				return err
			}
		}
	}
	if strings.EqualFold(encoding, "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	text, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	switch mediaType {
	case "text/plain":
		out.Text = string(text)
	case "text/html":
		out.HTML = string(text)
	}
	return nil
}

// certificate makes a self-signed certificate for 127.0.0.1 and the pool
// that trusts it.
func certificate(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mailertest"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// Wait blocks until ctx ends or a message arrives: for tests that poll a
// browser page while a mail is under way.
func (s *Server) Wait(ctx context.Context) (Received, error) {
	select {
	case m := <-s.got:
		return m, nil
	case <-ctx.Done():
		return Received{}, ctx.Err()
	}
}
