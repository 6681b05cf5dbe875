package handlers

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/keyport/keyport/internal/audit"
	"github.com/keyport/keyport/internal/kp"
)

func (r *auditUI) exportJSONL(c echo.Context) error {
	return r.exportStream(c, "jsonl", "application/jsonl; charset=utf-8", r.trail.ExportJSONL)
}

// exportCSV streams PostgreSQL's COPY of the export (audit.Reader.ExportCSV):
// the same bytes as audit.NewCSVEncoder, made by the database.
func (r *auditUI) exportCSV(c echo.Context) error {
	return r.exportStream(c, "csv", "text/csv; charset=utf-8", r.trail.ExportCSV)
}

// exporter is audit.Reader.ExportCSV or ExportJSONL.
type exporter func(ctx context.Context, who audit.Reviewer, f kp.AuditFilter, filters map[string]string, open func() io.Writer) error

// exportStream records the export with its filters (refusing if it
// cannot), then streams the matching events, newest first, as they come
// from the database. A failure mid-stream aborts the connection, so a
// client sees a broken download rather than a file that merely looks
// complete.
func (r *auditUI) exportStream(c echo.Context, format, contentType string, export exporter) error {
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
	err = export(c.Request().Context(), rv.Reviewer, f.AuditFilter, f.record(), func() io.Writer {
		exportHeaders(res, format, contentType)
		w = bufio.NewWriterSize(res, 32<<10)
		return w
	})
	if err != nil && w == nil {
		return err // nothing sent yet: the error page can still be shown
	}
	if err != nil {
		r.h.Log.ErrorContext(c.Request().Context(), "audit export failed mid-stream", "format", format, "err", err)
		panic(http.ErrAbortHandler)
	}
	if err := w.Flush(); err != nil {
		panic(http.ErrAbortHandler)
	}
	return nil
}

// errExportsLimited answers an export over the reviewer's budget.
var errExportsLimited = kp.Errorf(kp.RateLimited, "Too many exports in a short time. Wait a minute, then download again; "+
	"the page itself and its filters still work.")

// limitExports bounds each reviewer's exports (ASVS 2.4.1), whatever the
// address or session: each reads up to the whole trail. A refused export
// is recorded as a denied audit.export, then answered 429.
func (r *auditUI) limitExports(format string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			rv, err := current(c)
			if err != nil {
				return err
			}
			err = r.h.ExportLimiter.Allow(c.Request().Context(), "export:reviewer:"+rv.Username)
			if kp.KindOf(err) != kp.RateLimited {
				if err != nil {
					return err
				}
				return next(c)
			}
			filters := map[string]string{"page": strings.TrimPrefix(c.Path(), "/audit/")}
			if err := r.trail.ExportRefused(c.Request().Context(), rv.Reviewer, filters, format, "rate limited: too many exports"); err != nil {
				return err
			}
			return errExportsLimited
		}
	}
}

// exportHeaders sends an export's status and headers.
func exportHeaders(res *echo.Response, format, contentType string) {
	h := res.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Disposition", `attachment; filename="keyport-audit-`+time.Now().UTC().Format("20060102T150405Z")+`.`+format+`"`)
	res.WriteHeader(http.StatusOK)
}
