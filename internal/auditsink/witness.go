package auditsink

// Reading a witness back: the copies the sinks wrote, as `keyport audit
// verify --witness` compares them with the database (docs/auditing.md).

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/keyport/keyport/internal/audit"
)

// Witness is what a copy of the trail holds: (id, hash) of every record
// that checked out, sorted, exact duplicates dropped.
type Witness struct {
	Display string   // the source without credentials or query, for people
	Files   []string // what was read
	Events  []audit.WitnessEvent
	Records int64 // records read, duplicates included
	// Rejected names lines that were not records, or records that do not
	// match their own hash (a torn write, an edited copy): at most 20, with
	// RejectedN counting them all. They are left out of the comparison.
	Rejected  []string
	RejectedN int64
}

func (w *Witness) reject(where string, err error) {
	w.RejectedN++
	if len(w.Rejected) < 20 {
		w.Rejected = append(w.Rejected, where+": "+err.Error())
	}
}

// WitnessOptions says how to reach a witness over HTTPS.
type WitnessOptions struct {
	Token string         // sent as a bearer token, when set
	Roots *x509.CertPool // nil: the system's roots (SSL_CERT_FILE adds a private CA)
}

// ReadWitness reads the copy at raw:
//
//   - file:///path: the file sink's file and the copies logrotate left
//     beside it (path.1, path.2.gz, path-20261207, path-20261207.gz…),
//     every one of them, in any order: records carry their ids.
//   - https://host/path: a GET whose body is in any form below (a
//     collector that serves back what it stored).
//
// Every file or body may hold, one per line, the file sink's records (JSON
// lines), the HTTPS sink's batches (a JSON array of records a line) or
// Splunk HEC envelopes ({"event": record, …}, one or more a line).
func ReadWitness(ctx context.Context, raw string, o WitnessOptions) (*Witness, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("witness %q: not a URL", redact(raw))
	}
	shown := *u
	shown.User, shown.RawQuery, shown.Fragment = nil, "", ""
	w := &Witness{Display: shown.String()}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" || !strings.HasPrefix(u.Path, "/") {
			return nil, fmt.Errorf("witness %q: a file witness is file:///absolute/path", w.Display)
		}
		err = w.readFiles(u.Path)
	case "https":
		err = w.readHTTPS(ctx, u, o)
	case "http":
		return nil, fmt.Errorf("witness %q: read the witness over TLS: use https://", w.Display)
	default:
		return nil, fmt.Errorf("witness %q: unknown kind %q (file:///path or https://…)", w.Display, u.Scheme)
	}
	if err != nil {
		return nil, err
	}
	w.Events = audit.SortWitness(w.Events)
	return w, nil
}

// rotated lists path and the copies of it a log rotation leaves in its
// directory: names that continue path's with "." or "-".
func rotated(path string) ([]string, error) {
	dir, base := filepath.Split(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read witness directory: %w", err)
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && (n == base || strings.HasPrefix(n, base+".") || strings.HasPrefix(n, base+"-")) {
			out = append(out, filepath.Join(dir, n))
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("witness file %s: no such file, and no rotated copy of it", path)
	}
	return out, nil
}

func (w *Witness) readFiles(path string) error {
	files, err := rotated(path)
	if err != nil {
		return err
	}
	for _, name := range files {
		if err := w.readFile(name); err != nil {
			return err
		}
		w.Files = append(w.Files, name)
	}
	return nil
}

func (w *Witness) readFile(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("open witness file: %w", err)
	}
	defer f.Close()
	var r io.Reader = bufio.NewReaderSize(f, 1<<20)
	if strings.HasSuffix(name, ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("witness file %s: %w", name, err)
		}
		defer gz.Close()
		r = gz
	}
	if err := w.read(r, filepath.Base(name)); err != nil {
		return fmt.Errorf("witness file %s: %w", name, err)
	}
	return nil
}

func (w *Witness) readHTTPS(ctx context.Context, u *url.URL, o WitnessOptions) error {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: o.Roots, MinVersion: tls.VersionTLS12}
	client := &http.Client{Transport: tr, Timeout: 10 * time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	defer client.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fmt.Errorf("witness request: %w", err)
	}
	req.Header.Set("User-Agent", "keyport-audit-verify")
	if o.Token != "" {
		req.Header.Set("Authorization", "Bearer "+o.Token)
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("witness GET %s: %w", w.Display, scrubURLError(err))
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("witness GET %s: HTTP %d", w.Display, res.StatusCode)
	}
	w.Files = append(w.Files, w.Display)
	if err := w.read(res.Body, w.Display); err != nil {
		return fmt.Errorf("witness GET %s: %w", w.Display, err)
	}
	return nil
}

// maxLine bounds one line: a batch of 500 records as one JSON array.
const maxLine = 64 << 20

// read takes every record from r, line by line.
func (w *Witness) read(r io.Reader, name string) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		where := fmt.Sprintf("%s:%d", name, n)
		if err := w.line(line, where); err != nil {
			// A batch torn by a crash, then sent again, leaves the torn
			// part and the next record on one line: keep that record.
			if i := bytes.LastIndex(line, []byte(`{"id":`)); i > 0 && w.line(line[i:], where) == nil {
				w.reject(where, errors.New("a torn record before the last one on the line"))
				continue
			}
			w.reject(where, err)
		}
	}
	return sc.Err()
}

// line reads every JSON value on one line: a record, an array of records
// or a HEC envelope holding one.
func (w *Witness) line(line []byte, where string) error {
	if bytes.HasPrefix(line, []byte(`{"id":`)) { // the file sink's line: one record, decoded once
		var rec audit.ExportRecord
		if err := json.Unmarshal(line, &rec); err == nil {
			w.record(&rec, where)
			return nil
		}
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	var got []json.RawMessage
	for {
		var v json.RawMessage
		if err := dec.Decode(&v); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("not JSON: %w", err)
		}
		if len(v) > 0 && v[0] == '[' {
			var batch []json.RawMessage
			if err := json.Unmarshal(v, &batch); err != nil {
				return fmt.Errorf("not JSON: %w", err)
			}
			got = append(got, batch...)
		} else {
			got = append(got, v)
		}
	}
	for _, v := range got {
		var env struct {
			Event json.RawMessage `json:"event"`
		}
		if err := json.Unmarshal(v, &env); err != nil {
			return fmt.Errorf("not a record: %w", err)
		}
		if len(env.Event) > 0 {
			v = env.Event
		}
		var rec audit.ExportRecord
		if err := json.Unmarshal(v, &rec); err != nil || rec.ID <= 0 {
			return errors.New("not an audit record")
		}
		w.record(&rec, where)
	}
	return nil
}

// record keeps a record that matches its own hash.
func (w *Witness) record(rec *audit.ExportRecord, where string) {
	w.Records++
	sum, err := audit.RecordHash(rec)
	if err != nil {
		w.reject(where, err)
		return
	}
	w.Events = append(w.Events, audit.WitnessEvent{ID: rec.ID, Hash: sum})
}
