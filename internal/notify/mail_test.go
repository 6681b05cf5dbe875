package notify_test

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/keyport/keyport/internal/notify"
)

// mailbox is an SMTP server offering STARTTLS (a test certificate) and
// PLAIN auth only over TLS, keeping every message it accepts.
type mailbox struct {
	mu   sync.Mutex
	msgs []mailMsg
}

type mailMsg struct {
	from   string
	to     []string
	data   string
	tls    bool
	authed bool
}

type mailSession struct {
	box  *mailbox
	conn *smtp.Conn
	cur  mailMsg
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "keyport" || pass != "smtp-pa55" {
			return errors.New("bad credentials")
		}
		s.cur.authed = true
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.cur.authed {
		return smtp.ErrAuthRequired
	}
	_, s.cur.tls = s.conn.TLSConnectionState()
	s.cur.from = from
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = string(b)
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, s.cur)
	s.box.mu.Unlock()
	return nil
}

func (s *mailSession) Reset()        { s.cur = mailMsg{authed: s.cur.authed} }
func (s *mailSession) Logout() error { return nil }

func (b *mailbox) all() []mailMsg {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]mailMsg(nil), b.msgs...)
}

// A key event reaches the list and the key's owner by e-mail, over
// STARTTLS with the password from the file, and holds no secret.
func TestEmailOverSTARTTLS(t *testing.T) {
	w := newWorld(t)
	certSrv := httptest.NewTLSServer(nil) // lends its test certificate (127.0.0.1) to the SMTP server
	t.Cleanup(certSrv.Close)
	box := &mailbox{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &mailSession{box: box, conn: c}, nil
	}))
	srv.Domain, srv.TLSConfig = "mail.test", certSrv.TLS.Clone()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })

	pool := certPool(certSrv)
	w.run("smtp://keyport@"+ln.Addr().String()+"?from=keyport@acme.example&to=security@acme.example#mail", notify.Options{
		Password: "smtp-pa55", PublicURL: "https://keyport.example.com", Roots: pool,
		OwnerEmail: func(_ context.Context, region, tenant, key string) string {
			if region == "na1" && tenant == "t-1" && key == keyID {
				return "ada@acme.example"
			}
			return ""
		}})
	w.listed()
	w.created(keyID, "payroll export")
	waitFor(t, "the e-mail arrived", func() bool { return len(box.all()) == 1 })
	m := box.all()[0]
	if !m.tls || m.from != "keyport@acme.example" || strings.Join(m.to, ",") != "security@acme.example,ada@acme.example" {
		t.Errorf("e-mail: tls %v, from %q, to %v", m.tls, m.from, m.to)
	}
	for _, want := range []string{"Subject: [Keyport] A key was created (Acme)", "Label: payroll export", "Key: AKIAKEYP…XYZW",
		"Link: https://keyport.example.com/audit/keys/" + keyID, "Message-ID: <keyport-"} {
		if !strings.Contains(m.data, want) {
			t.Errorf("the e-mail lacks %q:\n%s", want, m.data)
		}
	}
	for _, leak := range []string{"abcdef0123456789", "WXYZ\r"} {
		if strings.Contains(m.data, leak) {
			t.Errorf("the e-mail holds %q", leak)
		}
	}
}

func certPool(s *httptest.Server) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(s.Certificate())
	return p
}
