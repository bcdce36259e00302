package mailer_test

import (
	"strings"
	"testing"

	"countersign/mailer"
	"countersign/mailer/mailertest"
)

func TestDeliveryOverSTARTTLS(t *testing.T) {
	srv := mailertest.Start(t, false)
	m := srv.Mailer(t)
	err := m.Send(t.Context(), mailer.Message{
		To: "alice@example.com", Subject: "Your code: ÄBC", Text: "Code: K7QX-M2PD-4R9T\nbye", HTML: "<p>Code: <b>K7QX-M2PD-4R9T</b></p>",
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := srv.Next(t)
	if !got.TLS {
		t.Error("the message went over a connection that never switched to TLS")
	}
	if got.Subject != "Your code: ÄBC" || !strings.Contains(got.Text, "K7QX-M2PD-4R9T") || !strings.Contains(got.HTML, "<b>K7QX-M2PD-4R9T</b>") {
		t.Errorf("received %+v", got)
	}
	if got.From != "auth@example.com" || len(got.To) != 1 || got.To[0] != "alice@example.com" {
		t.Errorf("envelope from %q to %v", got.From, got.To)
	}
}

func TestTLSIsNeverSkippedSilently(t *testing.T) {
	plain := mailertest.Start(t, true) // offers no STARTTLS
	m, err := mailer.New(mailer.Config{URL: "smtp://" + plain.Addr, From: "auth@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Send(t.Context(), mailer.Message{To: "alice@example.com", Subject: "s", Text: "t"}); err == nil {
		t.Fatal("a server without STARTTLS got the mail although TLS was required")
	}
	if got := plain.Pending(); len(got) != 0 {
		t.Fatalf("received %d messages in the clear", len(got))
	}
}

func TestALocalRelayInTheClearWhenAskedFor(t *testing.T) {
	plain := mailertest.Start(t, true)
	if err := plain.Mailer(t).Send(t.Context(), mailer.Message{To: "bob@example.com", Subject: "s", Text: "hello"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got := plain.Next(t); got.TLS || !strings.Contains(got.Text, "hello") {
		t.Errorf("received %+v", got)
	}
}

func TestQueuedMailIsDelivered(t *testing.T) {
	srv := mailertest.Start(t, false)
	m := srv.Mailer(t)
	done := make(chan struct{})
	go func() { m.Run(t.Context()); close(done) }()
	t.Cleanup(func() { <-done }) // t.Context ends before cleanups run: Run returns
	if !m.Enqueue(mailer.Message{To: "carol@example.com", Subject: "queued", Text: "later"}) {
		t.Fatal("Enqueue refused the first message")
	}
	if got := srv.Next(t); got.Subject != "queued" {
		t.Errorf("received %+v", got)
	}
}

func TestSMTPURLs(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"smtp://mail.example.com", true},
		{"smtp://user:secret@mail.example.com:2525", true},
		{"smtps://user:secret@mail.example.com", true},
		{"smtp://relay:25?tls=none", true},
		{"smtp://user:secret@relay:25?tls=none", false}, // a password in the clear
		{"smtps://relay?tls=none", false},
		{"smtp://relay?tls=maybe", false},
		{"smtp://relay?auth=plain", false},
		{"http://mail.example.com", false},
		{"smtp://", false},
		{"smtp://mail.example.com:99999", false},
		{"mail.example.com", false},
	} {
		if err := mailer.CheckURL(tc.url); (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q) = %v, want ok=%t", tc.url, err, tc.ok)
		}
	}
	if got := mailer.Redacted("smtp://user:secret@mail.example.com"); strings.Contains(got, "secret") {
		t.Errorf("Redacted kept the password: %s", got)
	}
}

func TestAddresses(t *testing.T) {
	for s, want := range map[string]bool{
		"alice@example.com": true, "admin": false, "Alice <alice@example.com>": false, "": false, "a@b": true,
	} {
		if got := mailer.IsAddress(s); got != want {
			t.Errorf("IsAddress(%q) = %t, want %t", s, got, want)
		}
	}
}
