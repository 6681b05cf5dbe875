package auditsink

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/keyport/keyport/internal/audit"
)

// httpsSink POSTs each batch and counts it delivered on a 2xx. The plain
// form sends a JSON array of records; the Splunk HEC form sends one HEC event
// object per record (concatenated, as HEC's /services/collector/event takes
// them) with "Authorization: Splunk <token>". Certificates are checked
// against the system's roots (SSL_CERT_FILE adds a private CA).
type httpsSink struct {
	url    string
	splunk bool
	token  string
	client *http.Client
	buf    bytes.Buffer
}

func newHTTPS(u *url.URL, splunk bool, token string, roots *x509.CertPool) *httpsSink {
	v := *u
	if splunk {
		v.Scheme = "https"
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	return &httpsSink{url: v.String(), splunk: splunk, token: token,
		client: &http.Client{Transport: tr, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect is a misconfiguration, not a place to send the trail
		}}}
}

// hecEvent is one Splunk HTTP Event Collector event.
type hecEvent struct {
	Time       float64             `json:"time"`
	Source     string              `json:"source"`
	Sourcetype string              `json:"sourcetype"`
	Event      *audit.ExportRecord `json:"event"`
}

func (s *httpsSink) Send(ctx context.Context, batch []audit.ExportRecord) (int64, error) {
	if len(batch) == 0 {
		return 0, nil
	}
	s.buf.Reset()
	enc := json.NewEncoder(&s.buf)
	var err error
	if s.splunk {
		for i := range batch {
			t, _ := time.Parse(time.RFC3339Nano, batch[i].OccurredAt)
			if err = enc.Encode(hecEvent{Time: float64(t.UnixMicro()) / 1e6, Source: "keyport", Sourcetype: "keyport:audit", Event: &batch[i]}); err != nil {
				break
			}
		}
	} else {
		err = enc.Encode(batch)
	}
	if err != nil {
		return 0, fmt.Errorf("encode audit batch: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(s.buf.Bytes()))
	if err != nil {
		return 0, fmt.Errorf("audit sink request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "keyport-audit-sink")
	switch {
	case s.splunk:
		req.Header.Set("Authorization", "Splunk "+s.token)
	case s.token != "":
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("audit sink POST: %w", scrubURLError(err))
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode/100 != 2 {
		return 0, fmt.Errorf("audit sink POST: HTTP %d", res.StatusCode)
	}
	return batch[len(batch)-1].ID, nil
}

// scrubURLError keeps the reason of a *url.Error without its URL, whose
// query could carry a collector's credentials.
func scrubURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

func (s *httpsSink) Close() error {
	s.client.CloseIdleConnections()
	return nil
}
