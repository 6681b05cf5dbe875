package notify

import (
	"context"
	"crypto/tls"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"strings"
	"time"
)

// sender delivers each message as one e-mail: to the target's list and,
// for a key event, to the key's owner where Keyport knows an address.
func (m *mailTarget) sender() *sender {
	return &sender{deliver: func(ctx context.Context, n *Notification) error {
		n = n.withLink(m.o.PublicURL)
		to := append([]string(nil), m.to...)
		if m.o.OwnerEmail != nil && n.keyID != "" {
			if a := m.o.OwnerEmail(ctx, n.Area, n.TenantID, n.keyID); a != "" && !contains(to, a) {
				to = append(to, a)
			}
		}
		return m.send(ctx, to, n)
	}}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// send speaks SMTP: implicit TLS for smtps://, STARTTLS whenever the server
// offers it for smtp://, and PLAIN auth only over TLS.
func (m *mailTarget) send(ctx context.Context, to []string, n *Notification) error {
	d := net.Dialer{Timeout: 15 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	tlsConf := &tls.Config{ServerName: m.host, RootCAs: m.o.Roots, MinVersion: tls.VersionTLS12}
	var conn net.Conn
	var err error
	if m.implicitTLS {
		conn, err = tls.DialWithDialer(&d, "tcp", m.addr, tlsConf)
	} else {
		conn, err = d.DialContext(ctx, "tcp", m.addr)
	}
	if err != nil {
		return fmt.Errorf("e-mail: connect: %w", err)
	}
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, m.host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("e-mail: greeting: %w", err)
	}
	defer c.Close()
	secure := m.implicitTLS
	if ok, _ := c.Extension("STARTTLS"); ok && !secure {
		if err := c.StartTLS(tlsConf); err != nil {
			return fmt.Errorf("e-mail: STARTTLS: %w", err)
		}
		secure = true
	}
	if m.user != "" {
		if !secure {
			return fmt.Errorf("e-mail: %s offers no TLS, and Keyport sends no password in clear", m.addr)
		}
		if err := c.Auth(smtp.PlainAuth("", m.user, m.o.Password, m.host)); err != nil {
			return fmt.Errorf("e-mail: sign-in: %w", err)
		}
	}
	if err := c.Mail(m.from); err != nil {
		return fmt.Errorf("e-mail: MAIL FROM: %w", err)
	}
	for _, a := range to {
		if err := c.Rcpt(a); err != nil {
			return fmt.Errorf("e-mail: RCPT TO %s: %w", a, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("e-mail: DATA: %w", err)
	}
	if _, err := w.Write(m.message(to, n)); err != nil {
		return fmt.Errorf("e-mail: write: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("e-mail: the server refused the message: %w", err)
	}
	return c.Quit()
}

// message is the e-mail: plain text, the facts one per line. Message-ID
// carries the notification id, so a mail system can drop a redelivery.
func (m *mailTarget) message(to []string, n *Notification) []byte {
	var b strings.Builder
	host := m.from[strings.LastIndex(m.from, "@")+1:]
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s@%s>\r\n", m.from, strings.Join(to, ", "),
		mime.QEncoding.Encode("utf-8", n.Title()), time.Now().UTC().Format(time.RFC1123Z), n.ID, host)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(n.Summary + ".\r\n\r\n")
	for _, f := range n.Facts() {
		b.WriteString(f[0] + ": " + f[1] + "\r\n")
	}
	b.WriteString("\r\nKeyport sends no secret by e-mail. This message was sent at least once: the same Id may arrive again.\r\n")
	return []byte(b.String())
}
