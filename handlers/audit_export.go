package handlers

import (
	"bufio"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
)

// exportFlushEvery is how many rows are written between flushes to the
// client: the response is never held in memory.
const exportFlushEvery = 500

// exportCSV streams PostgreSQL's COPY of the export (audit.Reader.ExportCSV):
// the same bytes as audit.NewCSVEncoder, made by the database.
func (r *auditUI) exportCSV(c echo.Context) error {
	rv, err := current(c)
	if err != nil {
		return err
	}
	f, err := parseAuditFilter(c.QueryParams())
	if err != nil {
		return err
	}
	if err := r.h.saveSessions(c); err != nil { // headers go out with the first row
		return err
	}
	res := c.Response()
	var w *bufio.Writer
	err = r.trail.ExportCSV(c.Request().Context(), rv.Reviewer, f.AuditFilter, f.record(), func() io.Writer {
		exportHeaders(res, "csv", "text/csv; charset=utf-8")
		w = bufio.NewWriterSize(res, 32<<10)
		return w
	})
	if err != nil && w == nil {
		return err // nothing sent yet: the error page can still be shown
	}
	if err != nil {
		r.h.Log.ErrorContext(c.Request().Context(), "audit export failed mid-stream", "format", "csv", "err", err)
		panic(http.ErrAbortHandler)
	}
	if err := w.Flush(); err != nil {
		panic(http.ErrAbortHandler)
	}
	return nil
}

// exportHeaders sends an export's status and headers.
func exportHeaders(res *echo.Response, format, contentType string) {
	h := res.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", `attachment; filename="keyport-audit-`+time.Now().UTC().Format("20060102T150405Z")+`.`+format+`"`)
	res.WriteHeader(http.StatusOK)
}

func (r *auditUI) exportJSONL(c echo.Context) error {
	return r.export(c, "jsonl", "application/jsonl; charset=utf-8", audit.NewJSONLEncoder)
}

// export records the export with its filters (refusing if it cannot), then
// streams the matching events, newest first, as they come from the
// database. A failure mid-stream aborts the connection, so a client sees
// a broken download rather than a file that merely looks complete.
func (r *auditUI) export(c echo.Context, format, contentType string, newEncoder func(io.Writer) audit.ExportEncoder) error {
	rv, err := current(c)
	if err != nil {
		return err
	}
	f, err := parseAuditFilter(c.QueryParams())
	if err != nil {
		return err
	}
	if err := r.h.saveSessions(c); err != nil { // headers go out with the first row
		return err
	}
	res := c.Response()
	started := false
	var w *bufio.Writer
	var enc audit.ExportEncoder
	n := 0
	begin := func() {
		started = true
		exportHeaders(res, format, contentType)
		w = bufio.NewWriterSize(res, 32<<10)
		enc = newEncoder(w)
	}
	err = r.trail.Export(c.Request().Context(), rv.Reviewer, f.AuditFilter, f.record(), format, func(e *kp.AuditEvent) error {
		if !started {
			begin()
		}
		if err := enc.Encode(e); err != nil {
			return err
		}
		if n++; n%exportFlushEvery == 0 {
			if err := w.Flush(); err != nil {
				return err
			}
			res.Flush()
		}
		return nil
	})
	if err != nil && !started {
		return err // nothing sent yet: the error page can still be shown
	}
	if err != nil {
		r.h.Log.ErrorContext(c.Request().Context(), "audit export failed mid-stream", "format", format, "rows", n, "err", err)
		panic(http.ErrAbortHandler)
	}
	if !started {
		begin()
	}
	if err := enc.Close(); err != nil {
		panic(http.ErrAbortHandler)
	}
	if err := w.Flush(); err != nil {
		panic(http.ErrAbortHandler)
	}
	return nil
}
