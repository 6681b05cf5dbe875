// Command benchtable turns `go test -bench` output into the one Markdown
// table `make bench` prints (issue 14): each figure, the anchor it is held
// against (measured in the same run), the ratio, the goal and a verdict.
//
// It reads the benchmark output on stdin and copies every line to stderr,
// so nothing is hidden, then prints the table on stdout. The benchmarks say
// everything with b.ReportMetric units:
//
//	<unit>          a figure (req/s, events/s, statements/view, ms_to_ready…)
//	anchor_<unit>   the anchor of the figure <unit>
//	ratio           figure / anchor
//	goal_ratio      the goal: ratio >= goal
//	max_<unit>      the goal: figure <unit> <= goal
//	min_<unit>      the goal: figure <unit> >= goal
//
// A benchmark may report several figures (one row each); ratio and
// goal_ratio belong to the one figure with an anchor. A figure that misses
// its goal is a measurement, not a failure: it is marked in the table and
// counted on the last line. The exit status is 1 when a benchmark (or the
// build) failed or no result was found.
//
// It imports the standard library only.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

func main() { os.Exit(run(os.Stdin, os.Stdout, os.Stderr)) }

// labels name the table's known rows, keyed by benchmark name (without
// "BenchmarkTable" and the GOMAXPROCS suffix) and figure unit; the anchor
// label is keyed by name alone. Unknown rows show their name and unit.
var labels = map[string]string{
	"KeysPage/c=1 req/s":                      "GET /keys req/s, c=1",
	"KeysPage/c=8 req/s":                      "GET /keys req/s, c=8",
	"KeysPage/c=32 req/s":                     "GET /keys req/s, c=32",
	"KeysPage/c=8_vs_sim req/s":               "GET /keys req/s, c=8, vs CXone",
	"KeysPage/statements statements":          "SQL statements per GET /keys",
	"KeysPage/latency_c=32 p50_ms":            "GET /keys p50 ms, c=32",
	"KeysPage/latency_c=32 p99_ms":            "GET /keys p99 ms, c=32",
	"KeysPage/latency_c=32 sim_p50_ms":        "simulator list-keys p50 ms, c=32",
	"KeysPage/latency_c=32 sim_p99_ms":        "simulator list-keys p99 ms, c=32",
	"KeysPage/latency_c=32 added_p50_ms":      "GET /keys adds to its list call, p50 ms, c=32",
	"KeysPage/latency_c=32 added_p99_ms":      "GET /keys adds to its list call, p99 ms, c=32",
	"KeysPage/latency_c=8 p50_ms":             "GET /keys p50 ms, c=8",
	"KeysPage/latency_c=8 p99_ms":             "GET /keys p99 ms, c=8",
	"KeysPage/latency_c=8 sim_p50_ms":         "simulator list-keys p50 ms, c=8",
	"KeysPage/latency_c=8 sim_p99_ms":         "simulator list-keys p99 ms, c=8",
	"KeysPage/latency_c=8 added_p50_ms":       "GET /keys adds to its list call, p50 ms, c=8",
	"KeysPage/latency_c=8 added_p99_ms":       "GET /keys adds to its list call, p99 ms, c=8",
	"KeysPage/latency_c=1 p50_ms":             "GET /keys p50 ms, c=1",
	"KeysPage/latency_c=1 p99_ms":             "GET /keys p99 ms, c=1",
	"KeysPage/latency_c=1 sim_p50_ms":         "simulator list-keys p50 ms, c=1",
	"KeysPage/latency_c=1 sim_p99_ms":         "simulator list-keys p99 ms, c=1",
	"KeysPage/latency_c=1 added_p50_ms":       "GET /keys adds to its list call, p50 ms, c=1",
	"KeysPage/latency_c=1 added_p99_ms":       "GET /keys adds to its list call, p99 ms, c=1",
	"Export/csv events/s":                     "audit CSV export, 1 M events/s",
	"Export/csv rss_growth_MB":                "CSV export peak RSS growth, MB",
	"Export/jsonl events/s":                   "audit JSONL export, 1 M events/s",
	"Export/jsonl rss_growth_MB":              "JSONL export peak RSS growth, MB",
	"Append/1_writer appends/s":               "chained audit appends/s, 1 writer",
	"Append/16_writers appends/s":             "chained appends/s, 2 instances, 16 writers",
	"Append/1_instance_8_writers appends/s":   "chained appends/s, 1 instance, 8 writers",
	"Append/4_instances_32_writers appends/s": "chained appends/s, 4 instances, 32 writers",
	"Append/1_instance_8_writers":             "plain INSERT, 8 writers",
	"Append/4_instances_32_writers":           "plain INSERT, 32 writers",
	"Export/csv bytes/s":                      "audit CSV export, bytes/s",
	"Export/jsonl bytes/s":                    "audit JSONL export, bytes/s",
	"ColdStart ms_to_ready":                   "cold start, ms to first /readyz 200",
	"ColdStart idle_RSS_MB":                   "idle RSS of the binary, MB",
	"Sink events/s":                           "file sink events/s, catching up 20 k events",
	"Sink lag_p50_events":                     "file sink lag under steady writes, p50 events",
	"Sink lag_max_events":                     "file sink lag under steady writes, max events",
	"Sink lag_p50_ms":                         "file sink lag under steady writes, p50 ms",
	"Sink lag_max_ms":                         "file sink lag under steady writes, max ms",
	"Rekey ms_for_10k_tokens":                 "keyport rekey, ms for 10 000 stored tokens",
	"Rekey tokens/s":                          "keyport rekey, tokens re-sealed/s",

	"KeysPage/c=1":        "/healthz, c=1",
	"KeysPage/c=8":        "/healthz, c=8",
	"KeysPage/c=32":       "/healthz, c=32",
	"KeysPage/c=8_vs_sim": "simulator list-keys, c=8",
	"Export/csv":          "COPY … TO STDOUT (FORMAT csv)",
	"Export/jsonl":        "COPY … TO STDOUT (FORMAT csv)",
	"Append/1_writer":     "plain INSERT, 1 writer",
	"Append/16_writers":   "plain INSERT, 16 writers",
	"Sink":                "chained appends/s, 1 writer, same run",
}

// row is one figure of one benchmark.
type row struct {
	name, unit    string
	value         float64
	anchor, ratio *float64
	goal          *float64
	goalKind      string // "ratio", "max", "min" or "" (report only)
}

// verdict says whether the row meets its goal.
func (r row) verdict() string {
	switch {
	case r.goal == nil:
		return "report"
	case r.goalKind == "ratio" && (r.ratio == nil || *r.ratio < *r.goal):
		return "BELOW GOAL"
	case r.goalKind == "min" && r.value < *r.goal:
		return "BELOW GOAL"
	case r.goalKind == "max" && r.value > *r.goal:
		return "OVER LIMIT"
	}
	return "ok"
}

var (
	// "BenchmarkX/sub-2 \t 1\t 123 ns/op\t 4.5 unit…"; the name may stand
	// alone on its line when something else wrote before the result.
	nameRE   = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?(?:\s|$)`)
	resultRE = regexp.MustCompile(`^(?:(Benchmark\S+?)(?:-\d+)?\s+)?(\d+)\s+([-+0-9.eE]+ ns/op.*)$`)
	// Go's own metrics say nothing the table needs.
	standard = map[string]bool{"ns/op": true, "B/op": true, "allocs/op": true, "MB/s": true}
)

// result is one benchmark's metrics, by unit.
type result struct {
	name    string
	metrics map[string]float64
	order   []string
}

// parse reads the benchmark output, copying each line to echo, and
// returns the results, the failure lines and the skipped benchmarks.
func parse(in io.Reader, echo io.Writer) (results []result, failures, skips []string, err error) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	pending := ""
	for sc.Scan() {
		line := sc.Text()
		fmt.Fprintln(echo, line)
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "--- FAIL"), trimmed == "FAIL", strings.HasPrefix(trimmed, "FAIL\t"),
			strings.HasPrefix(trimmed, "panic:"), strings.HasPrefix(trimmed, "FAIL "):
			failures = append(failures, trimmed)
			continue
		case strings.HasPrefix(trimmed, "--- SKIP"):
			skips = append(skips, strings.TrimSpace(strings.TrimPrefix(trimmed, "--- SKIP:")))
			continue
		}
		if m := resultRE.FindStringSubmatch(trimmed); m != nil && (m[1] != "" || pending != "") {
			name := m[1]
			if name == "" {
				name = pending
			}
			pending = ""
			r, perr := parseMetrics(name, m[3])
			if perr != nil {
				return nil, nil, nil, perr
			}
			results = append(results, r)
			continue
		}
		if m := nameRE.FindStringSubmatch(trimmed); m != nil {
			pending = m[1]
		}
	}
	return results, failures, skips, sc.Err()
}

func parseMetrics(name, fields string) (result, error) {
	r := result{name: shortName(name), metrics: map[string]float64{}}
	f := strings.Fields(fields)
	if len(f)%2 != 0 {
		return r, fmt.Errorf("%s: odd metric fields %q", name, fields)
	}
	for i := 0; i < len(f); i += 2 {
		v, err := strconv.ParseFloat(f[i], 64)
		if err != nil {
			return r, fmt.Errorf("%s: metric %q: %w", name, f[i], err)
		}
		if !standard[f[i+1]] {
			r.metrics[f[i+1]] = v
			r.order = append(r.order, f[i+1])
		}
	}
	return r, nil
}

func shortName(name string) string {
	name = strings.TrimPrefix(name, "Benchmark")
	return strings.TrimPrefix(name, "Table")
}

// rows turns one result into its figures.
func rows(r result) ([]row, error) {
	var out []row
	anchored := -1
	for _, u := range r.order {
		if isSpecial(u) {
			continue
		}
		x := row{name: r.name, unit: u, value: r.metrics[u]}
		if a, ok := r.metrics["anchor_"+u]; ok {
			if anchored >= 0 {
				return nil, fmt.Errorf("%s: two figures with anchors", r.name)
			}
			x.anchor, anchored = &a, len(out)
		}
		if g, ok := r.metrics["max_"+u]; ok {
			x.goal, x.goalKind = &g, "max"
		} else if g, ok := r.metrics["min_"+u]; ok {
			x.goal, x.goalKind = &g, "min"
		}
		out = append(out, x)
	}
	ratio, hasRatio := r.metrics["ratio"]
	goal, hasGoal := r.metrics["goal_ratio"]
	if (hasRatio || hasGoal) && anchored < 0 {
		return nil, fmt.Errorf("%s: a ratio or goal_ratio but no figure with an anchor", r.name)
	}
	if hasRatio {
		out[anchored].ratio = &ratio
	}
	if hasGoal {
		out[anchored].goal, out[anchored].goalKind = &goal, "ratio"
	}
	return out, nil
}

func isSpecial(u string) bool {
	return u == "ratio" || u == "goal_ratio" || strings.HasPrefix(u, "anchor_") ||
		strings.HasPrefix(u, "max_") || strings.HasPrefix(u, "min_")
}

// num prints a figure with as many digits as tell.
func num(v float64) string {
	switch a := max(v, -v); {
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// display is a unit as the table shows it.
func display(unit string) string {
	if d, ok := map[string]string{"rss_growth_MB": "MB", "idle_RSS_MB": "MB", "ms_to_ready": "ms"}[unit]; ok {
		return d
	}
	return unit
}

func (r row) cells() []string {
	figure := labels[r.name+" "+r.unit]
	if figure == "" {
		figure = r.name + " (" + r.unit + ")"
	}
	anchor, ratio, goal := "—", "—", "—"
	if r.anchor != nil {
		anchor = num(*r.anchor) + " " + display(r.unit)
		if l := labels[r.name]; l != "" {
			anchor += " (" + l + ")"
		}
	}
	if r.ratio != nil {
		ratio = strconv.FormatFloat(*r.ratio, 'f', 3, 64)
	}
	if r.goal != nil {
		goal = map[string]string{"ratio": "ratio ≥ ", "min": "≥ ", "max": "≤ "}[r.goalKind] +
			strconv.FormatFloat(*r.goal, 'g', -1, 64)
	}
	return []string{figure, num(r.value) + " " + display(r.unit), anchor, ratio, goal, r.verdict()}
}

func run(in io.Reader, out, echo io.Writer) int {
	results, failures, skips, err := parse(in, echo)
	if err != nil {
		fmt.Fprintln(out, "benchtable:", err)
		return 1
	}
	fmt.Fprintln(out, "| figure | measured | anchor (same run) | ratio | goal | verdict |")
	fmt.Fprintln(out, "|---|---|---|---|---|---|")
	missed, figures := 0, 0
	for _, res := range results {
		rs, err := rows(res)
		if err != nil {
			fmt.Fprintln(out, "benchtable:", err)
			return 1
		}
		for _, r := range rs {
			figures++
			if v := r.verdict(); v != "ok" && v != "report" {
				missed++
			}
			fmt.Fprintln(out, "| "+strings.Join(r.cells(), " | ")+" |")
		}
	}
	fmt.Fprintln(out)
	for _, s := range skips {
		fmt.Fprintln(out, "skipped:", s)
	}
	fmt.Fprintf(out, "%d of %d figures miss their goal.\n", missed, figures)
	switch {
	case len(failures) > 0:
		fmt.Fprintf(out, "benchtable: %d failure line(s) in the benchmark output, first: %s\n", len(failures), failures[0])
		return 1
	case figures == 0:
		fmt.Fprintln(out, "benchtable: no benchmark results on stdin")
		return 1
	}
	return 0
}
