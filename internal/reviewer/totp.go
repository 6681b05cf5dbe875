package reviewer

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/url"
	"time"
)

// TOTP per RFC 6238 with the parameters every authenticator app supports:
// HMAC-SHA-1, 30-second steps, 6 digits; one step of clock skew either way.
const (
	totpPeriod = 30
	totpDigits = 6
	totpSkew   = 1
	totpKeyLen = 20 // 160 bits, RFC 4226's recommendation for SHA-1
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// newTOTPKey returns a fresh random TOTP key.
func newTOTPKey() []byte {
	k := make([]byte, totpKeyLen)
	_, _ = rand.Read(k)
	return k
}

// totpCode is the HOTP value (RFC 4226 §5.3) of key at counter step.
func totpCode(key []byte, step int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%0*d", totpDigits, v%1_000_000)
}

// totpStep is the RFC 6238 time step of t.
func totpStep(t time.Time) int64 { return t.Unix() / totpPeriod }

// checkTOTP returns the step code matches at now (±skew), or 0 when it
// matches none. Every candidate is compared, in constant time, so timing
// says nothing about which step (if any) matched.
func checkTOTP(key []byte, code string, now time.Time) int64 {
	var matched int64
	cur := totpStep(now)
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		want := totpCode(key, cur+d)
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			matched = cur + d
		}
	}
	return matched
}

// otpauthURI is the key-provisioning URI authenticator apps read (from a QR
// code or pasted): otpauth://totp/Keyport:NAME?secret=…&issuer=Keyport….
func otpauthURI(username string, key []byte) string {
	v := url.Values{}
	v.Set("secret", b32.EncodeToString(key))
	v.Set("issuer", "Keyport")
	v.Set("algorithm", "SHA1")
	v.Set("digits", fmt.Sprint(totpDigits))
	v.Set("period", fmt.Sprint(totpPeriod))
	return "otpauth://totp/" + url.PathEscape("Keyport:"+username) + "?" + v.Encode()
}
