package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/netsend/messenger/internal/access"
	"github.com/netsend/messenger/internal/alert"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/message"
)

// Alerter raises administrative alerts for the API's callers.
type Alerter interface {
	Raise(ctx context.Context, req alert.Request) (alert.Result, error)
}

// MaxAlertBody bounds the body of POST /v1/alerts: an alert's text is at
// most 4,095 characters, so anything near this is not an alert.
const MaxAlertBody = 1 << 20

func (s *Server) raiseAlert(w http.ResponseWriter, r *http.Request) {
	if s.Alerts == nil {
		writeJSON(w, http.StatusServiceUnavailable, apitype.Error{Error: "this daemon raises no alerts", Code: apitype.CodeNotAvailable})
		return
	}
	// Who may alert is decided before the body is read, so a refused
	// caller changes nothing: no rate budget spent, nothing remembered.
	c := caller(r)
	if !s.Rules.Accounts.MayAlert(c) {
		refuse(w, access.Refuse("%s may not raise alerts: only admins and the accounts and groups in [access] alert_senders may", c.Login))
		return
	}
	var req alert.Request
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxAlertBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeJSON(w, http.StatusRequestEntityTooLarge, apitype.Error{Error: "the alert is larger than 1 MiB", Code: apitype.CodeTooLarge})
			return
		}
		writeJSON(w, http.StatusBadRequest, apitype.Error{Error: `body must be JSON like {"alert": {"source": "nut", "severity": "critical"}, "text": "on battery"}: ` + err.Error(),
			Code: apitype.CodeBadRequest})
		return
	}
	// Whoever reaches this API is on this host (or holds its web token);
	// the origin is not theirs to claim.
	req.Origin = alert.OriginLocal
	// Budgets and repeats are kept per caller; the key comes from how the
	// request was authenticated, never from its body (Caller is not JSON).
	req.Caller = c.Key()
	res, err := s.Alerts.Raise(r.Context(), req)
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, res)
	case errors.Is(err, message.ErrInvalid):
		writeJSON(w, http.StatusBadRequest, apitype.Error{Error: err.Error(), Code: apitype.CodeBadRequest})
	case errors.Is(err, alert.ErrNoRecipient):
		writeJSON(w, http.StatusUnprocessableEntity, apitype.Error{Error: err.Error(), Code: apitype.CodeNoRecipient})
	case errors.Is(err, alert.ErrRateLimited):
		w.Header().Set("Retry-After", "60")
		writeJSON(w, http.StatusTooManyRequests, apitype.Error{Error: err.Error(), Code: apitype.CodeRateLimited})
	default:
		s.internal(w, err)
	}
}

// Alert asks the daemon to raise an alert. A refusal (not an alert
// sender, bad input, no recipient, rate limited, too large) is a
// *RequestError with its code;
// per-recipient outcomes are in the Result.
func (c *Client) Alert(ctx context.Context, req alert.Request) (alert.Result, error) {
	var out alert.Result
	err := c.send(ctx, http.MethodPost, "/v1/alerts", req, &out)
	return out, err
}
