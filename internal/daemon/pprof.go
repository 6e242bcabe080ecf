package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"time"
)

// EnvPprof names the variable that, set to a loopback HOST:PORT, serves
// Go's profiles (/debug/pprof/) there: a debugging aid for the
// benchmarks (`go run ./bench -profile DIR hub`), never a setting. It is an
// environment variable rather than a flag or a config key so that no
// deployment turns it on by accident, and loopback only; even so every
// local account can read the profiles, which no shared machine should
// allow (docs/performance.md, "The hub round trip").
const EnvPprof = "MESSENGER_PPROF"

// startPprof serves the profiles when EnvPprof asks for it, until ctx
// ends. An address that is not loopback, or that cannot be had, is
// logged and ignored: a debugging aid must not stop the daemon.
func startPprof(ctx context.Context, log *slog.Logger) {
	addr := os.Getenv(EnvPprof)
	if addr == "" {
		return
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().IsLoopback() {
		log.Warn("ignoring "+EnvPprof+": not a loopback address and port", slog.String("addr", addr))
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		log.Warn("ignoring "+EnvPprof, slog.Any("err", fmt.Errorf("listening on %s: %w", ap, err)))
		return
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("pprof server stopped", slog.Any("err", err))
		}
	}()
	log.Warn("serving Go profiles for debugging", slog.String("addr", ln.Addr().String()))
}
