package auditsink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/keyport/keyport/internal/audit"
)

// fileSink appends one JSON line per event. It opens with O_APPEND, so
// logrotate's copytruncate (the file truncated under it) leaves it writing
// at the new end, and it reopens the path when the file was renamed or
// removed (logrotate's default), so no batch lands in a rotated-away file
// after it noticed. Each batch is fsynced before it counts as delivered.
type fileSink struct {
	path string
	f    *os.File
	buf  bytes.Buffer
}

func openFile(path string) (*fileSink, error) {
	s := &fileSink{path: path}
	if err := s.reopen(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *fileSink) reopen() error {
	if s.f != nil {
		s.f.Close()
		s.f = nil
	}
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open audit sink file: %w", err)
	}
	s.f = f
	return nil
}

// current reopens the path when it no longer names the open file.
func (s *fileSink) current() error {
	if s.f == nil {
		return s.reopen()
	}
	onDisk, err := os.Stat(s.path)
	open, ferr := s.f.Stat()
	if err != nil || ferr != nil || !os.SameFile(onDisk, open) {
		return s.reopen()
	}
	return nil
}

func (s *fileSink) Send(_ context.Context, batch []audit.ExportRecord) (int64, error) {
	if len(batch) == 0 {
		return 0, nil
	}
	if err := s.current(); err != nil {
		return 0, err
	}
	s.buf.Reset()
	enc := json.NewEncoder(&s.buf)
	for i := range batch {
		if err := enc.Encode(&batch[i]); err != nil {
			return 0, fmt.Errorf("encode audit event %d: %w", batch[i].ID, err)
		}
	}
	if _, err := s.f.Write(s.buf.Bytes()); err != nil {
		s.reopen()
		return 0, fmt.Errorf("write audit sink file: %w", err)
	}
	if err := s.f.Sync(); err != nil {
		s.reopen()
		return 0, fmt.Errorf("sync audit sink file: %w", err)
	}
	return batch[len(batch)-1].ID, nil
}

func (s *fileSink) Close() error {
	if s.f == nil {
		return nil
	}
	return s.f.Close()
}
