package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
	"rsc.io/qr"

	"github.com/keyport/keyport/internal/reviewer"
	"github.com/keyport/keyport/internal/secret"
)

// readPassword reads a new password: from a terminal without echo, twice;
// otherwise one line of standard input (for scripts: `… < file`).
func readPassword(e env) (secret.Secret, error) {
	if f, ok := e.stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(e.stderr, "New password: ")
		a, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return secret.Secret{}, fmt.Errorf("read password: %w", err)
		}
		fmt.Fprint(e.stderr, "Again: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.stderr)
		if err != nil {
			return secret.Secret{}, fmt.Errorf("read password: %w", err)
		}
		if !bytes.Equal(a, b) {
			return secret.Secret{}, usageError(errors.New("the passwords differ"))
		}
		return secret.New(string(a)), nil
	}
	line, err := bufio.NewReader(io.LimitReader(e.stdin, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return secret.Secret{}, fmt.Errorf("read password from standard input: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return secret.Secret{}, usageError(errors.New("no password on standard input"))
	}
	return secret.New(line), nil
}

// printEnrolment shows the TOTP provisioning URI and its QR code, once;
// nothing when no TOTP secret was set up (enrol is nil).
func printEnrolment(e env, enrol *reviewer.Enrolment, pngPath string) error {
	if enrol == nil {
		return nil
	}
	uri := enrol.URI.Reveal()
	fmt.Fprintln(e.stdout, "\nTOTP: scan this with an authenticator app, or enter the URI. It is shown only now.")
	fmt.Fprintln(e.stdout, uri)
	code, err := qr.Encode(uri, qr.M)
	if err != nil {
		return fmt.Errorf("QR code: %w", err)
	}
	fmt.Fprintln(e.stdout)
	writeTerminalQR(e.stdout, code)
	if pngPath != "" {
		var buf bytes.Buffer
		if err := png.Encode(&buf, qrImage(code, 8)); err != nil {
			return fmt.Errorf("QR code PNG: %w", err)
		}
		if err := os.WriteFile(pngPath, buf.Bytes(), 0o600); err != nil {
			return fmt.Errorf("write QR code: %w", err)
		}
		fmt.Fprintf(e.stdout, "QR code written to %s (it holds the secret: delete it once scanned)\n", pngPath)
	}
	return nil
}

// qrQuiet is the blank border scanners need around a code, in modules.
const qrQuiet = 4

// writeTerminalQR draws the code with half-block characters, two module
// rows per text line, dark modules as spaces on a light background so it
// scans on dark and light terminals alike.
func writeTerminalQR(w io.Writer, c *qr.Code) {
	n := c.Size + 2*qrQuiet
	dark := func(x, y int) bool { return c.Black(x-qrQuiet, y-qrQuiet) }
	var b strings.Builder
	for y := 0; y < n; y += 2 {
		for x := 0; x < n; x++ {
			top, bottom := !dark(x, y), y+1 < n && !dark(x, y+1) || y+1 >= n
			switch {
			case top && bottom:
				b.WriteRune('█')
			case top:
				b.WriteRune('▀')
			case bottom:
				b.WriteRune('▄')
			default:
				b.WriteByte(' ')
			}
		}
		b.WriteByte('\n')
	}
	io.WriteString(w, b.String())
}

func qrImage(c *qr.Code, scale int) image.Image {
	n := (c.Size + 2*qrQuiet) * scale
	img := image.NewGray(image.Rect(0, 0, n, n))
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			v := color.Gray{Y: 0xff}
			if c.Black(x/scale-qrQuiet, y/scale-qrQuiet) {
				v.Y = 0
			}
			img.SetGray(x, y, v)
		}
	}
	return img
}
