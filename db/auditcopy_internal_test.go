package db

import (
	"context"
	"strings"
	"testing"

	"github.com/keyport/keyport/internal/kp"
)

// copySQLFor renders the COPY statement with s as every string filter.
func copySQLFor(t *testing.T, s string) (string, bool) {
	t.Helper()
	f := kp.AuditFilter{TenantID: s, Region: kp.Region(s), ActorUserID: s, Action: kp.Action(s), Outcome: kp.Outcome(s),
		KeyID: s, RequestID: s, Text: s}
	a, err := New(nil).build(context.Background(), f) // no time bounds: no query
	if err != nil {
		t.Fatal(err)
	}
	sql, err := auditCSVCopySQL(a, 42)
	if err != nil {
		if strings.IndexByte(s, 0) >= 0 && kp.KindOf(err) == kp.Invalid {
			return "", false
		}
		t.Fatalf("render %q: %v", s, err)
	}
	return sql, true
}

// shape reads sql as PostgreSQL's lexer does (standard_conforming_strings
// on): each string literal ('…' with ” inside, or E'…' with backslash
// escapes too) becomes ?, and its text is returned in order.
func shape(t *testing.T, sql string) (string, []string) {
	t.Helper()
	var out strings.Builder
	var lits []string
	for i := 0; i < len(sql); i++ {
		if sql[i] != '\'' {
			out.WriteByte(sql[i])
			continue
		}
		escapes := i > 0 && (sql[i-1] == 'E') && (i < 2 || !isIdent(sql[i-2]))
		var lit strings.Builder
		j := i + 1
		for ; ; j++ {
			if j >= len(sql) {
				t.Fatalf("unterminated literal in %q", sql)
			}
			if escapes && sql[j] == '\\' {
				j++
				lit.WriteByte(sql[j])
				continue
			}
			if sql[j] == '\'' {
				if j+1 < len(sql) && sql[j+1] == '\'' {
					lit.WriteByte('\'')
					j++
					continue
				}
				break
			}
			lit.WriteByte(sql[j])
		}
		out.WriteByte('?')
		lits = append(lits, lit.String())
		i = j
	}
	return out.String(), lits
}

func isIdent(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// No filter value changes the COPY statement's shape: whatever the text,
// PostgreSQL reads the same statement with the value whole inside its
// literals (COPY takes no bind parameters, so this is the guarantee).
func FuzzAuditCopyQueryKeepsItsShape(f *testing.F) {
	for _, s := range []string{"x", "'", "''", `\'`, `'; DROP TABLE audit_events; --`, "$1", "$$", "E'\\''", "\x00", "%_\\",
		"/*", "*/", "--", "\n", "é", `\`, "' OR TRUE OR '"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" {
			return // an empty value is no filter: the query without it
		}
		benign, _ := copySQLFor(t, "x")
		want, wantLits := shape(t, benign)
		sql, ok := copySQLFor(t, s)
		if !ok {
			return // a NUL is refused, never rendered
		}
		got, lits := shape(t, sql)
		if got != want || len(lits) != len(wantLits) {
			t.Fatalf("the value %q changed the statement:\n got %s\nwant %s", s, got, want)
		}
		values := 0
		for i, l := range wantLits {
			switch {
			case l != "x" && lits[i] != l:
				t.Fatalf("the value %q changed the statement's literal %d to %q", s, i, lits[i])
			case l == "x" && lits[i] != s && lits[i] != likeEscape(s):
				t.Fatalf("the value %q is not whole in literal %d: %q", s, i, lits[i])
			case l == "x":
				values++
			}
		}
		if values != 8 {
			t.Fatalf("%d filter literals, want 8", values)
		}
	})
}
