// Package logging builds Keyport's slog logger and carries the request id
// through a context so that every log line of a request names it. It also
// holds the level of the one line per request, so that a development
// terminal can keep those at debug while production keeps them at info.
package logging

import (
	"context"
	"io"
	"log/slog"
	"net/http"
)

type ctxKey struct{}

// WithRequestID returns ctx carrying the request id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// Option adjusts a logger made by New.
type Option func(*requestIDHandler)

// RequestLevel sets the level of the per-request line (default info).
func RequestLevel(l slog.Level) Option {
	return func(h *requestIDHandler) { h.requests = l }
}

// New returns a JSON (production) or text (development) logger at level
// that adds request_id to every record logged with a request's context.
func New(w io.Writer, format string, level slog.Leveler, opts ...Option) *slog.Logger {
	ho := &slog.HandlerOptions{Level: level}
	h := requestIDHandler{requests: slog.LevelInfo}
	if format == "text" {
		h.Handler = slog.NewTextHandler(w, ho)
	} else {
		h.Handler = slog.NewJSONHandler(w, ho)
	}
	for _, o := range opts {
		o(&h)
	}
	return slog.New(h)
}

// RequestLevelFor returns the level at which log writes the line of a
// request that answered status: a server error is always an error, however
// quiet the request lines are, so that a failure is never hidden.
func RequestLevelFor(log *slog.Logger, status int) slog.Level {
	if status >= http.StatusInternalServerError {
		return slog.LevelError
	}
	if h, ok := log.Handler().(requestIDHandler); ok {
		return h.RequestLevel(status)
	}
	return slog.LevelInfo
}

// RequestLevel is RequestLevelFor for a logger made by New. It is a method
// of the handler so that a package that may not import this one (the cxone
// client, for its one line per call) can ask for it through an interface.
func (h requestIDHandler) RequestLevel(status int) slog.Level {
	if status >= http.StatusInternalServerError {
		return slog.LevelError
	}
	return h.requests
}

type requestIDHandler struct {
	slog.Handler
	requests slog.Level // the level of the per-request line
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as), h.requests}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name), h.requests}
}
