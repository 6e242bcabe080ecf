package api

import (
	"net/http"
	"time"
)

// Bounds of every request on the API's listeners, so that a client that
// trickles its headers or body, or holds an idle keep-alive connection,
// costs a descriptor for seconds, not forever. The event stream lifts the
// read and write deadlines for itself and keeps its own.
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	// writeTimeout leaves room for a send that waits on the network (its
	// own timeout is shorter) or a `send --wait` through the hub.
	writeTimeout   = 2 * time.Minute
	idleTimeout    = time.Minute
	maxHeaderBytes = 16 << 10
)

// newHTTPServer is the http.Server every API listener runs h on.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout,
		WriteTimeout: writeTimeout, IdleTimeout: idleTimeout, MaxHeaderBytes: maxHeaderBytes}
}
