package main

import (
	"os"
	"strings"
	"testing"
)

// sample is the output of a `make bench` run (testdata/bench.txt).
func sample(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("testdata/bench.txt")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// format runs the formatter on input and returns its exit code, the table
// (stdout) and what it echoed (stderr).
func format(input string) (code int, table, echoed string) {
	var out, echo strings.Builder
	code = run(strings.NewReader(input), &out, &echo)
	return code, out.String(), echo.String()
}

// cellsOf returns the cells of the table row whose figure is figure.
func cellsOf(t *testing.T, table, figure string) []string {
	t.Helper()
	for _, line := range strings.Split(table, "\n") {
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) == 6 && cells[0] == figure {
			return cells
		}
	}
	t.Fatalf("no row %q in\n%s", figure, table)
	return nil
}

func TestTableOfACapturedRun(t *testing.T) {
	code, table, echoed := format(sample(t))
	if code != 0 {
		t.Fatalf("exit %d, want 0:\n%s", code, table)
	}
	if echoed != sample(t) {
		t.Errorf("stderr is not the input, line for line")
	}
	if n := strings.Count(table, "| figure |"); n != 1 {
		t.Errorf("%d table headers, want 1", n)
	}
	for _, want := range [][]string{
		{"GET /keys req/s, c=1", "97.7 req/s", "1304 req/s (/healthz, c=1)", "0.075", "—", "report"},
		{"GET /keys req/s, c=8, vs CXone", "94.8 req/s", "281 req/s (simulator list-keys, c=8)", "0.337", "ratio ≥ 0.5", "BELOW GOAL"},
		{"SQL statements per GET /keys", "9.00 statements", "—", "—", "≤ 4", "OVER LIMIT"},
		{"audit JSONL export, 1 M events/s", "24733 events/s", "55491 events/s (COPY … TO STDOUT (FORMAT csv))", "0.446", "ratio ≥ 0.6", "BELOW GOAL"},
		{"CSV export peak RSS growth, MB", "3.88 MB", "—", "—", "≤ 30", "ok"},
		{"chained appends/s, 2 instances, 16 writers", "236 appends/s", "2362 appends/s (plain INSERT, 16 writers)", "0.100", "ratio ≥ 0.5", "BELOW GOAL"},
		{"cold start, ms to first /readyz 200", "129 ms", "—", "—", "—", "report"},
	} {
		got := cellsOf(t, table, want[0])
		if strings.Join(got, " | ") != strings.Join(want, " | ") {
			t.Errorf("row\n got %q\nwant %q", got, want)
		}
	}
	if n := strings.Count(table, "\n| "); n != 13 {
		t.Errorf("%d rows, want 13 (one per figure)", n)
	}
	if !strings.HasSuffix(table, "\n6 of 13 figures miss their goal.\n") {
		t.Errorf("no count of the figures below goal at the end of\n%s", table)
	}
}

// A line written to stderr while a benchmark runs lands between its name
// and its result; the result still belongs to that benchmark.
func TestResultSplitByAnotherLine(t *testing.T) {
	code, table, _ := format("BenchmarkTableExport/jsonl-2         \tpgtest: a line written meanwhile\n" +
		"       1\t31012345678 ns/op\t       900000 anchor_events/s\t     450000 events/s\t   0.6 goal_ratio\t   0.5 ratio\n")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, table)
	}
	want := []string{"audit JSONL export, 1 M events/s", "450000 events/s", "900000 events/s (COPY … TO STDOUT (FORMAT csv))", "0.500", "ratio ≥ 0.6", "BELOW GOAL"}
	if got := cellsOf(t, table, want[0]); strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Errorf("row\n got %q\nwant %q", got, want)
	}
}

func TestVerdicts(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name string
		row  row
		want string
	}{
		{"a figure without a goal is reported", row{value: 3}, "report"},
		{"a ratio at its goal is ok", row{ratio: f(0.5), goal: f(0.5), goalKind: "ratio"}, "ok"},
		{"a ratio under its goal is below goal", row{ratio: f(0.49), goal: f(0.5), goalKind: "ratio"}, "BELOW GOAL"},
		{"a missing ratio is below goal", row{goal: f(0.5), goalKind: "ratio"}, "BELOW GOAL"},
		{"a figure at its limit is ok", row{value: 4, goal: f(4), goalKind: "max"}, "ok"},
		{"a figure over its limit is over limit", row{value: 4.02, goal: f(4), goalKind: "max"}, "OVER LIMIT"},
		{"a figure under its minimum is below goal", row{value: 1, goal: f(2), goalKind: "min"}, "BELOW GOAL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.row.verdict(); got != tc.want {
				t.Errorf("verdict = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFailuresExitNonZero(t *testing.T) {
	for _, tc := range []struct{ name, input, want string }{
		{"a failed benchmark", sample(t) + "--- FAIL: BenchmarkTableAppend/16_writers-2\n    table_bench_test.go:50: boom\nFAIL\tgithub.com/keyport/keyport/internal/audit\t3.1s\n",
			"--- FAIL: BenchmarkTableAppend/16_writers-2"},
		{"a build failure", sample(t) + "FAIL\tgithub.com/keyport/keyport/handlers [build failed]\n",
			"FAIL\tgithub.com/keyport/keyport/handlers [build failed]"},
		{"a panic", "panic: runtime error\n", "panic: runtime error"},
		{"no results", "PASS\nok  \tgithub.com/keyport/keyport/handlers\t0.1s\n", "no benchmark results"},
		{"a ratio with no anchor", "BenchmarkTableX-2 \t 1\t 5 ns/op\t 0.4 ratio\t 3 req/s\n", "no figure with an anchor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, table, _ := format(tc.input)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(table, tc.want) {
				t.Errorf("output does not say %q:\n%s", tc.want, table)
			}
		})
	}
	// The table is still printed above a failure: the figures measured are not lost.
	_, table, _ := format(sample(t) + "--- FAIL: BenchmarkTableColdStart-2\n")
	cellsOf(t, table, "GET /keys req/s, c=32")
}

func TestSkippedBenchmarksAreListed(t *testing.T) {
	code, table, _ := format(sample(t) + "--- SKIP: BenchmarkTableExport/csv-2\n    table_export_bench_test.go:97: cannot reset the RSS peak\n")
	if code != 0 || !strings.Contains(table, "skipped: BenchmarkTableExport/csv-2") {
		t.Errorf("exit %d, table:\n%s", code, table)
	}
}
