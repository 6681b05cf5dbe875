package config

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Notification settings (issue 25). internal/notify parses and checks the
// list and reads the files at start; config imports no service.
const (
	Notify       = "KEYPORT_NOTIFY"
	NotifySecret = "KEYPORT_NOTIFY_SECRET_FILE"
	SMTPPassword = "KEYPORT_SMTP_PASSWORD_FILE"
	PublicURL    = "KEYPORT_PUBLIC_URL"
	SinkMinutes  = "KEYPORT_NOTIFY_SINK_MINUTES"
)

var notifyVars = []Var{
	{Env: Notify, Flag: "notify", Help: "comma-separated notification targets: webhook+https://…, slack+https://…, teams+https://…, smtp://host:port?from=…&to=…, smtps://… (#name names one); empty = none"},
	{Env: NotifySecret, Flag: "notify-secret-file", Help: "file holding the webhooks' HMAC-SHA256 key (the Keyport-Signature header; required with a webhook+https target)"},
	{Env: SMTPPassword, Flag: "smtp-password-file", Help: "file holding the SMTP password (the user is the smtp:// URL's user)"},
	{Env: SinkMinutes, Flag: "notify-sink-minutes", Default: "15", Help: "an audit sink or notification target failing for longer than this many minutes is recorded (audit.sink_failing) and notified"},
	{Env: PublicURL, Flag: "public-url", Help: "the portal's address as people reach it (https://keyport.example.com), for links in notifications; empty = no links"},
}

// Notifications are the notification targets and their secrets' files.
type Notifications struct {
	Notify           string // comma-separated targets (internal/notify)
	NotifySecretFile string // the webhooks' HMAC key
	SMTPPasswordFile string // the SMTP password
	PublicURL        string // the portal's address, for links; "" = none
	// SinkFailingAfter is how long a sink may fail before it is recorded.
	SinkFailingAfter time.Duration
}

// setOutbound keeps the trail's copies' (setTrail) and notifications' settings; only the
// public URL is checked here (it must be absolute).
func (c *Config) setOutbound(env, v string) error {
	switch env {
	case AuditSinks, AuditSinkToken, AuditRetain, DatabaseReadURL:
		return c.setTrail(env, v)
	case Notify:
		c.Notify = v
	case NotifySecret:
		c.NotifySecretFile = v
	case SMTPPassword:
		c.SMTPPasswordFile = v
	case SinkMinutes:
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10080 {
			return errors.New("want a whole number of minutes from 1 to 10080")
		}
		c.SinkFailingAfter = time.Duration(n) * time.Minute
	case PublicURL:
		u, err := url.Parse(v)
		if v != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "") {
			return errors.New("want the portal's absolute address, such as https://keyport.example.com")
		}
		c.PublicURL = strings.TrimRight(v, "/")
	}
	return nil
}
