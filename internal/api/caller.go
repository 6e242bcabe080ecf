package api

import (
	"context"
	"errors"
	"net"
	"net/http"

	"golang.org/x/sys/unix"

	"github.com/netsend/messenger/internal/access"
	"github.com/netsend/messenger/internal/apitype"
)

// Credentials turn what an HTTP request carries (a session cookie, a
// token) into the local account it is bound to.
type Credentials interface {
	Caller(r *http.Request) (access.Caller, bool)
}

type peerUIDKey struct{}

// PeerConnContext is an http.Server's ConnContext for the Unix socket: it
// records the connecting process's uid from SO_PEERCRED, which the kernel
// vouches for, so that every request on the socket has a caller whatever
// the socket's file mode.
func PeerConnContext(ctx context.Context, c net.Conn) context.Context {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return ctx
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return ctx
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || credErr != nil {
		return ctx
	}
	return context.WithValue(ctx, peerUIDKey{}, int(cred.Uid))
}

func peerUID(ctx context.Context) (int, bool) {
	uid, ok := ctx.Value(peerUIDKey{}).(int)
	return uid, ok
}

// identify puts the request's caller in its context: the socket's peer,
// or the account an HTTP credential is bound to. A request with neither
// gets 401 and reaches no handler.
func (s *Server) identify(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.callerOf(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="messenger"`)
			writeJSON(w, http.StatusUnauthorized, apitype.Error{Error: err.Error(), Code: apitype.CodeUnauthenticated})
			return
		}
		next.ServeHTTP(w, r.WithContext(access.WithCaller(r.Context(), c)))
	})
}

func (s *Server) callerOf(r *http.Request) (access.Caller, error) {
	if c, ok := access.FromContext(r.Context()); ok {
		return c, nil
	}
	if uid, ok := peerUID(r.Context()); ok {
		c, err := s.Rules.Accounts.ByUID(uid)
		c.Via = "socket"
		return c, err
	}
	if s.Credentials != nil {
		if c, ok := s.Credentials.Caller(r); ok {
			return c, nil
		}
	}
	return access.Caller{}, errors.New("sign in first: this API needs a token (Authorization: Bearer TOKEN, made by \"messenger token create\") or a web session (\"messenger web\")")
}

// caller is the request's caller, which identify has put there.
func caller(r *http.Request) access.Caller {
	c, _ := access.FromContext(r.Context())
	return c
}

// refuse answers a Refusal with 403 and its sentence.
func refuse(w http.ResponseWriter, err error) {
	writeJSON(w, http.StatusForbidden, apitype.Error{Error: err.Error(), Code: apitype.CodeForbidden})
}

// admin refuses, and reports false, unless the caller is an admin.
func (s *Server) admin(w http.ResponseWriter, r *http.Request, what string) bool {
	if err := s.Rules.AdminOnly(caller(r), what); err != nil {
		refuse(w, err)
		return false
	}
	return true
}

// mayRead refuses, and reports false, unless the caller may read m.
func (s *Server) mayRead(w http.ResponseWriter, r *http.Request, m messageRef, what string) bool {
	c := caller(r)
	if m.State == "quarantined" && !c.Admin {
		refuse(w, access.Refuse("%s may not %s message %d: it is in the quarantine, which only admins may see", c.Login, what, m.ID))
		return false
	}
	if !s.Rules.MayRead(c, m.To) {
		refuse(w, access.Refuse("%s may not %s message %d: it is addressed to %s, whose messages only its owner and admins may read", c.Login, what, m.ID, m.To))
		return false
	}
	return true
}

type messageRef struct {
	ID    int64
	To    string
	State string
}

// AdminHandler serves h to admins only, whoever the listener lets in:
// /metrics off loopback, where the network could otherwise read it.
func (s *Server) AdminHandler(h http.Handler, what string) http.Handler {
	return s.identify(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.admin(w, r, what) {
			h.ServeHTTP(w, r)
		}
	}))
}
