package db

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/keyport/keyport/internal/kp"
)

// CopyAuditCSV writes the CSV export's rows (internal/audit's export
// format, without the header) of every event matching f with id <= upTo,
// newest first, to w, through PostgreSQL's COPY: each line is made by the
// database (auditCSVLine), and Keyport only strips COPY's framing.
//
// COPY takes no bind parameters, so the filter's values are rendered into
// the query as literals (renderSQL): typed values only, strings quoted as
// pgx's own sanitizer quotes them. The line is built in SQL and sent in
// COPY's binary format rather than as COPY's own CSV because that CSV
// differs from the export's (encoding/csv's) quoting: it quotes an empty
// string, and not a cell that starts with a space or that is `\.` among
// other cells.
//
// open is called once the query is ready to run, for the writer: an error
// before it (a refused filter, an unreachable database) can still become an
// error page.
func CopyAuditCSV(ctx context.Context, pool *pgxpool.Pool, f kp.AuditFilter, upTo int64, open func() io.Writer) error {
	q := New(pool)
	a, err := q.build(ctx, f)
	if err != nil {
		return err
	}
	if a.empty {
		open()
		return nil
	}
	sql, err := auditCSVCopySQL(a, upTo)
	if err != nil {
		return err
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("copy audit events: %w", err)
	}
	defer conn.Release()
	if conn.Conn().PgConn().ParameterStatus("standard_conforming_strings") != "on" {
		return errors.New("copy audit events: standard_conforming_strings is off")
	}
	if _, err := conn.Conn().PgConn().CopyTo(ctx, &copyLines{w: open()}, sql); err != nil {
		return fmt.Errorf("copy audit events: %w", err)
	}
	return nil
}

// auditCSVCopySQL is the COPY statement for a built filter.
func auditCSVCopySQL(a *auditQuery, upTo int64) (string, error) {
	b := *a
	b.conds = append([]string(nil), a.conds...)
	b.args = append([]any(nil), a.args...)
	b.add("id <= $?", upTo)
	where, err := renderSQL(b.where(), b.args)
	if err != nil {
		return "", err
	}
	return `COPY (SELECT ` + auditCSVLine + ` FROM audit_events WHERE ` + where + ` ORDER BY id DESC) TO STDOUT (FORMAT binary)`, nil
}

// renderSQL replaces each $N of tmpl (a fixed fragment of this package,
// never request text) with args[N-1] as a literal, in one pass over tmpl,
// so a value's text is never read as SQL or as a placeholder.
func renderSQL(tmpl string, args []any) (string, error) {
	var b strings.Builder
	for i := 0; i < len(tmpl); i++ {
		if tmpl[i] != '$' {
			b.WriteByte(tmpl[i])
			continue
		}
		j := i + 1
		for j < len(tmpl) && tmpl[j] >= '0' && tmpl[j] <= '9' {
			j++
		}
		n, err := strconv.Atoi(tmpl[i+1 : j])
		if err != nil || n < 1 || n > len(args) {
			return "", fmt.Errorf("render audit filter: bad placeholder in %q", tmpl)
		}
		lit, err := literal(args[n-1])
		if err != nil {
			return "", err
		}
		b.WriteString(lit)
		i = j - 1
	}
	return b.String(), nil
}

// literal renders a typed value as SQL. Strings are quoted as pgx's
// sanitizer quotes them (standard_conforming_strings on, which
// CopyAuditCSV checks): between single quotes, each single quote doubled;
// a NUL, which no text value can hold, is refused.
func literal(v any) (string, error) {
	switch v := v.(type) {
	case int64:
		return strconv.FormatInt(v, 10), nil
	case time.Time:
		return "'" + v.UTC().Format(time.RFC3339Nano) + "'::timestamptz", nil
	case string:
		if strings.IndexByte(v, 0) >= 0 {
			return "", kp.Errorf(kp.Invalid, "A filter value holds a NUL character.")
		}
		return "'" + strings.ReplaceAll(v, "'", "''") + "'", nil
	default:
		return "", fmt.Errorf("render audit filter: a %T cannot be a literal", v)
	}
}

// csvField is the export's cell for the text expression v, as
// internal/csvsafe.AppendField writes it: one more leading ' when v starts
// with any number of ' followed by = + - @ tab or CR (NUL cannot be stored);
// quoted, quotes doubled, when it holds , " CR or LF, or (not prefixed) is
// `\.` or starts with a space as unicode.IsSpace has it. The first test is
// the common case without a regex (a first character that is none of
// those, nor a backslash, and no character that needs quoting): the cell as
// it is.
func csvField(v string) string {
	return `(CASE WHEN ` + v + ` = '' OR strpos(E'-=+@\t\r''\\\n\v\f \u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000', left(` + v + `, 1)) = 0
		AND strpos(` + v + `, ',') = 0 AND strpos(` + v + `, '"') = 0 AND strpos(` + v + `, E'\n') = 0 AND strpos(` + v + `, E'\r') = 0 THEN ` + v + `
	WHEN ` + v + ` ~ E'^''*[-=+@\t\r]' THEN
		CASE WHEN ` + v + ` ~ E'[,"\r\n]' THEN '"''' || replace(` + v + `, '"', '""') || '"' ELSE '''' || ` + v + ` END
	WHEN ` + v + ` ~ E'[,"\r\n]' OR ` + v + ` = E'\\.' OR ` + v + ` ~ E'^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]'
		THEN '"' || replace(` + v + `, '"', '""') || '"'
	ELSE ` + v + ` END)`
}

// auditCSVLine is one export row, every column in the export's order
// (internal/audit.exportColumns): times in RFC 3339 UTC with microseconds,
// hashes in hex, null as an empty cell. actor_kind, action and outcome go
// as they are: their CHECK constraints allow only plain words.
var auditCSVLine = func() string {
	cols := []string{
		"id::text",
		`to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
		"actor_kind", csvField("actor_user_id"), csvField("actor_name"), csvField("tenant_id"),
		csvField("tenant_name"), csvField("region"), csvField("session_hash"), csvField("client_ip"),
		csvField("user_agent"), "action", csvField("target_key_id"), "outcome",
		csvField("coalesce(upstream_status::text, '')"), csvField("error_message"), csvField("request_id"),
		csvField("coalesce(intent_id::text, '')"), csvField("details::text"), csvField("hash_version::text"),
		"encode(prev_hash, 'hex')", "encode(hash, 'hex')",
	}
	return strings.Join(cols, ` || ',' || `)
}()

// copyLines turns COPY's binary format of one text column into lines:
// it drops the header, each row's field count and length and the trailer,
// and writes each value followed by '\n'. COPY's messages may split
// anywhere, so it is a small state machine over the bytes.
type copyLines struct {
	w      io.Writer
	head   int     // header bytes still to skip (19 + extension) ; -1 once past
	frame  [6]byte // a row's field count (2) and length (4)
	nframe int
	left   int // bytes of the current value still to write
	done   bool
}

const copyBinaryHeader = 19 // "PGCOPY\n\377\r\n\0", flags (4), extension length (4)

func (c *copyLines) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		switch {
		case c.done:
			return n, nil
		case c.head < copyBinaryHeader:
			k := min(copyBinaryHeader-c.head, len(p))
			c.head += k
			p = p[k:]
			// The extension area's length is 0 in every PostgreSQL so far.
		case c.left > 0:
			k := min(c.left, len(p))
			if _, err := c.w.Write(p[:k]); err != nil {
				return 0, err
			}
			c.left -= k
			p = p[k:]
			if c.left == 0 {
				if _, err := c.w.Write([]byte{'\n'}); err != nil {
					return 0, err
				}
			}
		default:
			k := copy(c.frame[c.nframe:], p)
			c.nframe += k
			p = p[k:]
			if c.nframe >= 2 && int16(binary.BigEndian.Uint16(c.frame[:2])) == -1 {
				c.done = true
				continue
			}
			if c.nframe < 6 {
				continue
			}
			c.nframe = 0
			if binary.BigEndian.Uint16(c.frame[:2]) != 1 {
				return 0, errors.New("copy audit events: a row of more than one field")
			}
			l := int32(binary.BigEndian.Uint32(c.frame[2:]))
			if l <= 0 { // never null; an empty line cannot be a row
				return 0, errors.New("copy audit events: an empty row")
			}
			c.left = int(l)
		}
	}
	return n, nil
}

// auditRawColumns are the export's columns as PostgreSQL's text, formatted
// by SQL (times in RFC 3339 UTC with microseconds, hashes in hex), for
// ScanAuditRaw. The id is renamed: ORDER BY id would otherwise sort its text.
const auditRawColumns = `id::text AS raw_id, to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), actor_kind,
	actor_user_id, actor_name, tenant_id, tenant_name, region, session_hash, client_ip, user_agent, action, target_key_id,
	outcome, upstream_status::text, error_message, request_id, intent_id::text, details::text, hash_version::text,
	encode(prev_hash, 'hex'), encode(hash, 'hex')`

// ScanAuditRaw is ScanAuditEvents for the JSON-lines export: fn gets each
// row's values as raw text (nil for null), in the export's column order,
// never decoded into strings or times. fn must not keep them.
func (q *Queries) ScanAuditRaw(ctx context.Context, f kp.AuditFilter, upTo int64, batch int, fn func(vals [][]byte) error) error {
	a, err := q.build(ctx, f)
	if err != nil || a.empty {
		return err
	}
	before := upTo + 1
	for {
		sql, args := listSQL(a, before, 0, batch-1) // listSQL asks for limit+1
		sql = strings.Replace(sql, auditColumns, auditRawColumns, 1)
		rows, err := q.db.Query(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("scan audit events: %w", err)
		}
		n := 0
		for rows.Next() {
			vals := rows.RawValues()
			id, err := strconv.ParseInt(string(vals[0]), 10, 64)
			if err != nil {
				rows.Close()
				return fmt.Errorf("read audit event id: %w", err)
			}
			n++
			before = id
			if err := fn(vals); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("scan audit events: %w", err)
		}
		if n < batch {
			return nil
		}
	}
}
