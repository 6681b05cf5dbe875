package auditsink

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/keyport/keyport/internal/audit"
)

// syslogSink writes RFC 5424 messages with octet-counting framing (RFC 6587
// §3.4.1; RFC 5425 over TLS): "<len> <PRI>1 TIMESTAMP HOST keyport PID MSGID
// [keyport@32473 id=… hash=… prev_hash=…] <the event as JSON>".
//
// Syslog has no acknowledgement, so a write is not proof of receipt: a
// receiver that closes its socket loses what its kernel had buffered. The
// sink therefore counts an event delivered only when it was written at least
// settle ago on a connection that is still open; when the connection turns
// out to be closed, everything since then is sent again (duplicates, never
// gaps).
type syslogSink struct {
	addr   string
	tls    bool
	roots  *x509.CertPool
	host   string
	pid    string
	settle time.Duration
	now    func() time.Time

	conn    net.Conn
	written []written // ids written on conn, oldest first, not yet settled
	buf     bytes.Buffer
}

type written struct {
	id int64
	at time.Time
}

const syslogSettle = 2 * time.Second

func newSyslog(addr string, useTLS bool, roots *x509.CertPool) *syslogSink {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "-"
	}
	return &syslogSink{addr: addr, tls: useTLS, roots: roots, host: sdSafe(host, 255), pid: strconv.Itoa(os.Getpid()),
		settle: syslogSettle, now: time.Now}
}

func (s *syslogSink) dial(ctx context.Context) error {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	var c net.Conn
	var err error
	if s.tls {
		host, _, _ := net.SplitHostPort(s.addr)
		td := &tls.Dialer{NetDialer: d, Config: &tls.Config{ServerName: host, RootCAs: s.roots, MinVersion: tls.VersionTLS12}}
		c, err = td.DialContext(ctx, "tcp", s.addr)
	} else {
		c, err = d.DialContext(ctx, "tcp", s.addr)
	}
	if err != nil {
		return fmt.Errorf("connect to syslog receiver: %w", err)
	}
	s.conn = c
	return nil
}

// alive reports whether the receiver has not closed the connection: a
// receiver never sends on it, so a read that does not time out means EOF or
// an error.
func (s *syslogSink) alive() bool {
	if err := s.conn.SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
		return false
	}
	var one [1]byte
	_, err := s.conn.Read(one[:])
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func (s *syslogSink) drop(err error) error {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
	s.written = s.written[:0]
	return err
}

func (s *syslogSink) Send(ctx context.Context, batch []audit.ExportRecord) (int64, error) {
	if s.conn != nil && !s.alive() {
		return 0, s.drop(errors.New("the syslog receiver closed the connection"))
	}
	acked := s.settled()
	if len(batch) == 0 {
		return acked, nil
	}
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return 0, err
		}
	}
	s.buf.Reset()
	for i := range batch {
		if err := s.frame(&batch[i]); err != nil {
			return 0, err
		}
	}
	if err := s.conn.SetWriteDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return 0, s.drop(err)
	}
	if _, err := s.conn.Write(s.buf.Bytes()); err != nil {
		return 0, s.drop(fmt.Errorf("write to syslog receiver: %w", err))
	}
	now := s.now()
	for i := range batch {
		s.written = append(s.written, written{batch[i].ID, now})
	}
	return acked, nil
}

// settled drops and answers the newest id written at least settle ago on
// the (still open) connection; 0 when none.
func (s *syslogSink) settled() int64 {
	var acked int64
	cut := s.now().Add(-s.settle)
	n := 0
	for n < len(s.written) && !s.written[n].at.After(cut) {
		acked = s.written[n].id
		n++
	}
	s.written = append(s.written[:0], s.written[n:]...)
	return acked
}

// frame appends one octet-counted RFC 5424 message for r to s.buf.
func (s *syslogSink) frame(r *audit.ExportRecord) error {
	body, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode audit event %d: %w", r.ID, err)
	}
	sev := 5 // notice
	if r.Outcome == "failure" || r.Outcome == "denied" || r.Outcome == "unknown" {
		sev = 4 // warning
	}
	const facility = 13 // log audit
	msg := fmt.Sprintf("<%d>1 %s %s keyport %s %s [keyport@32473 id=\"%d\" hash=\"%s\" prev_hash=\"%s\" action=\"%s\" outcome=\"%s\"] %s",
		facility*8+sev, r.OccurredAt, s.host, s.pid, sdSafe(r.Action, 32), r.ID, r.Hash, r.PrevHash,
		sdEscape(r.Action), sdEscape(r.Outcome), body)
	s.buf.WriteString(strconv.Itoa(len(msg)))
	s.buf.WriteByte(' ')
	s.buf.WriteString(msg)
	return nil
}

// sdEscape escapes a structured-data parameter value (RFC 5424 §6.3.3).
func sdEscape(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, `]`, `\]`).Replace(v)
}

// sdSafe keeps a header field to printable US-ASCII without spaces, at most
// max bytes; empty becomes the nil value "-".
func sdSafe(v string, max int) string {
	b := make([]byte, 0, len(v))
	for i := 0; i < len(v) && len(b) < max; i++ {
		if c := v[i]; c > 32 && c < 127 {
			b = append(b, c)
		}
	}
	if len(b) == 0 {
		return "-"
	}
	return string(b)
}

func (s *syslogSink) Close() error {
	if s.conn == nil {
		return nil
	}
	return s.drop(nil)
}
