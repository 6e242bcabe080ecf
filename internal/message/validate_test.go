package message

import (
	"errors"
	"strings"
	"testing"
)

// A hub message may carry the id it was sent under and the host the hub
// proved; nothing else may, since the sinks show Verified as proven.
func TestValidateHub(t *testing.T) {
	hubMsg := func(id, verified string) *Message {
		return &Message{From: "bob", To: "ALICE", Text: "hi", Transport: TransportHub, Source: "hub:HOSTB", HubID: id, Verified: verified}
	}
	for _, tc := range []struct {
		name string
		m    *Message
		want string // "" for valid
	}{
		{"hub message", hubMsg("0123456789abcdef0123456789abcdef", "HOSTB"), ""},
		{"upper-case hex", hubMsg("0123456789ABCDEF", "HOSTB"), ""},
		{"64 digits", hubMsg(strings.Repeat("a", 64), "HOSTB"), ""},
		{"without id or mark", hubMsg("", ""), ""},
		{"65 digits", hubMsg(strings.Repeat("a", 65), "HOSTB"), "hub id is 65 characters, limit 64"},
		{"not hex", hubMsg("0123456789abcdeg", "HOSTB"), `hub id "0123456789abcdeg" is not hex`},
		{"a wildcard", hubMsg("*", "HOSTB"), `hub id "*" is not hex`},
		{"verified too long", hubMsg("ab", strings.Repeat("H", MaxNameLen+1)), "verified sender is 256 characters"},
		{"verified not UTF-8", hubMsg("ab", "HOST\xff"), "verified sender is not valid UTF-8"},
		{"hub alert", func() *Message {
			m := hubMsg("ab", "HOSTB")
			m.Alert = &Alert{Source: "nut", Severity: SeverityInfo}
			return m
		}(), "a hub message cannot carry an alert"},
		{"smb with a verified mark", &Message{From: "bob", To: "ALICE", Transport: TransportSMB, Verified: "HOSTB"}, "a smb message cannot carry a hub id or a verified sender"},
		{"api with a hub id", &Message{From: "bob", To: "ALICE", Transport: TransportAPI, HubID: "ab"}, "a api message cannot carry a hub id"},
		{"alert with a verified mark", &Message{From: "H", To: "ALICE", Transport: TransportAlert, Alert: &Alert{Source: "nut", Severity: SeverityInfo}, Verified: "H"}, "a alert message cannot carry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.m)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Validate: %v, want valid", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Validate: %v, want an error saying %q", err, tc.want)
			case tc.want != "" && !errors.Is(err, ErrInvalid):
				t.Errorf("Validate: %v does not wrap ErrInvalid", err)
			}
		})
	}
}
