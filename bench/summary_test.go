package main

import (
	"strings"
	"testing"
)

func TestFiguresJudgeTargets(t *testing.T) {
	r := &Report{
		NBNS: []pairRow{{Clients: 8, Ours: 100_000, Peer: 20_000, OursCPU: 3.4, PeerCPU: 40.9}},
		Mix:  &mixRow{Sent: 1000, Judged: 1000, PerSecond: 150_000, Legit: 100, LegitDelivered: 99},
		Hub: []hubRow{
			{Nodes: 1, Clients: 8, Ours: 1500, Bare: 4000, OursP99: 12, BareP99: 4.6},
			{Nodes: 3, Clients: 8, Ours: 600, Bare: 580, OursP99: 25, BareP99: 27},
		},
	}
	want := map[string]string{
		"name answer CPU µs, 8 clients":           "met",
		"spam mix: legitimate delivered":          "met",
		"spam mix: datagrams judged/s":            "NOT met",
		"hub round trips/s, 1 node(s), 8 clients": "NOT met",
		"hub p99 ms, 1 node(s), 8 clients":        "met",
		"hub round trips/s, 3 node(s), 8 clients": "met",
		"name answers/s, 8 clients":               "",
	}
	got := map[string]string{}
	for _, f := range r.Figures() {
		got[f.What] = f.verdict()
	}
	for what, v := range want {
		if g, ok := got[what]; !ok || g != v {
			t.Errorf("%s: verdict %q (present %v), want %q", what, g, ok, v)
		}
	}
	var out strings.Builder
	if err := r.PrintFigures(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "nmbd 40.9") || !strings.Contains(out.String(), "0.38×") {
		t.Errorf("printed figures lack the peer or the ratio:\n%s", out.String())
	}
}
