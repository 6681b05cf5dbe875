package logging

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

func TestRequestLevel(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   []Option
		status int
		want   slog.Level
	}{
		{"a request line is info by default", nil, 200, slog.LevelInfo},
		{"a client error too", nil, 404, slog.LevelInfo},
		{"a configured level applies to a success", []Option{RequestLevel(slog.LevelDebug)}, 200, slog.LevelDebug},
		{"and to a client error", []Option{RequestLevel(slog.LevelDebug)}, 422, slog.LevelDebug},
		{"a server error is always an error", []Option{RequestLevel(slog.LevelDebug)}, 503, slog.LevelError},
		{"even when request lines are louder", []Option{RequestLevel(slog.LevelWarn)}, 500, slog.LevelError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log := New(&bytes.Buffer{}, "text", nil, tc.opts...)
			if got := RequestLevelFor(log, tc.status); got != tc.want {
				t.Errorf("RequestLevelFor(%d) = %v, want %v", tc.status, got, tc.want)
			}
			if got := RequestLevelFor(log.With("k", "v").WithGroup("g"), tc.status); got != tc.want {
				t.Errorf("after With and WithGroup: %v, want %v", got, tc.want)
			}
		})
	}
}

// At info, a request line at debug is not written; a 5xx's is, with the
// request id.
func TestQuietRequestLines(t *testing.T) {
	var buf bytes.Buffer
	log := New(&buf, "text", slog.LevelInfo, RequestLevel(slog.LevelDebug))
	ctx := WithRequestID(context.Background(), "r1")
	log.Log(ctx, RequestLevelFor(log, 200), "request", "status", 200)
	log.Log(ctx, RequestLevelFor(log, 502), "request", "status", 502)
	out := buf.String()
	if strings.Contains(out, "status=200") || !strings.Contains(out, "level=ERROR msg=request status=502 request_id=r1") {
		t.Errorf("log = %q", out)
	}
}
