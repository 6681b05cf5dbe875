package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// newHook is a webhook+https, slack+https or teams+https target: one POST
// per message, delivered on a 2xx.
func newHook(kind, target string, o Options) *sender {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: o.Roots, MinVersion: tls.VersionTLS12}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse // a redirect is a misconfiguration, not a place to send a message
	}}
	deliver := func(ctx context.Context, n *Notification) error {
		n = n.withLink(o.PublicURL)
		var body []byte
		var err error
		switch kind {
		case "slack":
			body, err = json.Marshal(slackMessage(n))
		case "teams":
			body, err = json.Marshal(teamsMessage(n))
		default:
			body, err = json.Marshal(n)
		}
		if err != nil {
			return fmt.Errorf("encode the notification: %w", err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("notification request: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "keyport-notify")
		if kind == "webhook" {
			req.Header.Set("Keyport-Signature", Sign(o.Secret, time.Now(), body))
		}
		res, err := client.Do(req)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // without the URL, whose path or query can hold a token
			}
			return fmt.Errorf("%s notification POST: %w", kind, err)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		res.Body.Close()
		if res.StatusCode/100 != 2 {
			return fmt.Errorf("%s notification POST: HTTP %d", kind, res.StatusCode)
		}
		return nil
	}
	return &sender{deliver: deliver, close: func() error { client.CloseIdleConnections(); return nil }}
}

// Sign is the Keyport-Signature header of body sent at t: the Stripe
// scheme, "t=<unix seconds>,v1=<hex HMAC-SHA256(key, t + "." + body)>".
func Sign(key string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(key, ts, body)
}

func mac(key, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Verify checks a Keyport-Signature header against body, as a receiver
// does: the MAC (compared in constant time) and the timestamp within
// tolerance of now, so a captured message cannot be replayed later. A
// receiver also keeps the ids it has seen, to drop a replay within the
// window and a redelivery (docs/auditing.md).
func Verify(key, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("malformed Keyport-Signature")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("Keyport-Signature timestamp outside the tolerance window")
	}
	want := mac(key, ts, body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return errors.New("Keyport-Signature does not match")
}

// slackMessage is a Slack incoming-webhook message: a text fallback and a
// header and section blocks.
func slackMessage(n *Notification) map[string]any {
	var lines []string
	for _, f := range n.Facts() {
		lines = append(lines, "*"+f[0]+":* "+f[1])
	}
	return map[string]any{
		"text": n.Title(),
		"blocks": []any{
			map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": truncate(n.Summary, 150)}},
			map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": strings.Join(lines, "\n")}},
		},
	}
}

// teamsMessage is a Microsoft Teams incoming-webhook (Office 365
// connector) MessageCard.
func teamsMessage(n *Notification) map[string]any {
	var facts []any
	for _, f := range n.Facts() {
		facts = append(facts, map[string]any{"name": f[0], "value": f[1]})
	}
	card := map[string]any{
		"@type": "MessageCard", "@context": "https://schema.org/extensions",
		"summary": n.Title(), "title": n.Title(), "themeColor": "B00020",
		"sections": []any{map[string]any{"facts": facts}},
	}
	if n.Link != "" {
		card["potentialAction"] = []any{map[string]any{"@type": "OpenUri", "name": "Open in Keyport",
			"targets": []any{map[string]any{"os": "default", "uri": n.Link}}}}
	}
	return card
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
