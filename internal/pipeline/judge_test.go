package pipeline

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/netsend/messenger/internal/message"
	"github.com/netsend/messenger/internal/metrics"
	"github.com/netsend/messenger/internal/policy"
)

type verdictPolicy policy.Verdict

func (v verdictPolicy) Decide(*message.Message) policy.Verdict { return policy.Verdict(v) }

// Judge stores nothing, whatever the verdict; Keep stores what Judge
// accepted, marked as the verdict said.
func TestJudgeThenKeep(t *testing.T) {
	for _, tc := range []struct {
		name  string
		v     policy.Verdict
		err   error
		state message.State
	}{
		{"deliver", policy.Verdict{}, nil, message.StateUnread},
		{"quarantine", policy.Verdict{Action: policy.Quarantine, Rule: "spam_run"}, nil, message.StateQuarantined},
		{"drop", policy.Verdict{Action: policy.Drop, Rule: "flood"}, ErrDropped, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &memStore{}
			p := New(verdictPolicy(tc.v), st, metrics.New(), slog.New(slog.NewTextHandler(io.Discard, nil)))
			defer p.Close()
			m := &message.Message{From: "A", To: "B", Text: "hi", Transport: message.TransportMailslot}
			if err := p.Judge(context.Background(), m); !errors.Is(err, tc.err) {
				t.Fatalf("Judge = %v, want %v", err, tc.err)
			}
			if len(st.msgs) != 0 {
				t.Fatal("Judge stored the message")
			}
			if tc.err != nil {
				return
			}
			if err := p.Keep(context.Background(), m); err != nil {
				t.Fatal(err)
			}
			if len(st.msgs) != 1 || st.msgs[0].State != tc.state {
				t.Errorf("stored %+v, want one message in state %q", st.msgs, tc.state)
			}
		})
	}
}
