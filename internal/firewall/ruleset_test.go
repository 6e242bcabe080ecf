package firewall

import (
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func prefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		wantAllow []string
		wantUDP   []uint16
		wantTCP   []uint16
		wantErr   bool
	}{
		{
			name:    "defaults block the whole advice",
			wantUDP: []uint16{135, 137, 138},
			wantTCP: []uint16{135, 139, 445},
		},
		{
			name:    "domain member keeps 445",
			opts:    Options{DomainMember: true},
			wantUDP: []uint16{135, 137, 138},
			wantTCP: []uint16{135, 139},
		},
		{
			name:      "allowed networks are masked and sorted, IPv4 first",
			opts:      Options{Allow: prefixes(t, "2001:db8::1/64", "192.168.1.77/24", "10.0.0.0/8")},
			wantAllow: []string{"10.0.0.0/8", "192.168.1.0/24", "2001:db8::/64"},
			wantUDP:   []uint16{135, 137, 138},
			wantTCP:   []uint16{135, 139, 445},
		},
		{
			name:      "contained and adjacent networks merge",
			opts:      Options{Allow: prefixes(t, "10.1.2.0/24", "10.0.0.0/8", "192.168.0.0/25", "192.168.0.128/25", "192.168.1.0/24")},
			wantAllow: []string{"10.0.0.0/8", "192.168.0.0/23"},
			wantUDP:   []uint16{135, 137, 138},
			wantTCP:   []uint16{135, 139, 445},
		},
		{
			name:      "a single host",
			opts:      Options{Allow: prefixes(t, "10.99.5.2/32", "10.99.5.2/32")},
			wantAllow: []string{"10.99.5.2/32"},
			wantUDP:   []uint16{135, 137, 138},
			wantTCP:   []uint16{135, 139, 445},
		},
		{
			name:      "everything",
			opts:      Options{Allow: prefixes(t, "0.0.0.0/0", "::/0", "10.0.0.0/8")},
			wantAllow: []string{"0.0.0.0/0", "::/0"},
			wantUDP:   []uint16{135, 137, 138},
			wantTCP:   []uint16{135, 139, 445},
		},
		{
			name:    "IPv4-mapped IPv6 is refused",
			opts:    Options{Allow: prefixes(t, "::ffff:10.0.0.0/104")},
			wantErr: true,
		},
		{
			name:    "zero prefix is refused",
			opts:    Options{Allow: []netip.Prefix{{}}},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := Build(tt.opts)
			if tt.wantErr {
				if !errors.Is(err, ErrBadOption) {
					t.Fatalf("Build: err %v, want ErrBadOption", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := prefixStrings(r.Allow); !slices.Equal(got, tt.wantAllow) && (len(got) > 0 || len(tt.wantAllow) > 0) {
				t.Errorf("Allow = %v, want %v", got, tt.wantAllow)
			}
			if !slices.Equal(r.UDPPorts, tt.wantUDP) || !slices.Equal(r.TCPPorts, tt.wantTCP) {
				t.Errorf("ports udp %v tcp %v, want udp %v tcp %v", r.UDPPorts, r.TCPPorts, tt.wantUDP, tt.wantTCP)
			}
			if r.DomainMember() != tt.opts.DomainMember {
				t.Errorf("DomainMember() = %v", r.DomainMember())
			}
			if len(r.Blocked())+len(r.Open()) != len(advicePorts) {
				t.Errorf("Blocked %v and Open %v do not cover the advice", r.Blocked(), r.Open())
			}
		})
	}
}

func TestRulesetStringGolden(t *testing.T) {
	r, err := Build(Options{Allow: prefixes(t, "10.99.5.2/32", "fd00::/8")})
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "ruleset.nft")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, []byte(r.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.String(); got != string(want) {
		t.Errorf("String() =\n%s\nwant\n%s", got, want)
	}
}

func TestLegacyWarning(t *testing.T) {
	all, _ := Build(Options{})
	dm, _ := Build(Options{DomainMember: true})
	for _, tt := range []struct {
		r    Ruleset
		want string
	}{{all, "--domain-member"}, {dm, "TCP 445 stays open"}} {
		w := LegacyWarning(tt.r)
		for _, s := range []string{"NetBIOS", "Network Neighborhood", "net view", tt.want} {
			if !strings.Contains(w, s) {
				t.Errorf("warning lacks %q:\n%s", s, w)
			}
		}
	}
}

func TestRangePrefixes(t *testing.T) {
	tests := []struct {
		from, to string
		want     []string
	}{
		{"10.0.0.0", "10.0.0.255", []string{"10.0.0.0/24"}},
		{"10.0.0.1", "10.0.0.6", []string{"10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"}},
		{"0.0.0.0", "255.255.255.255", []string{"0.0.0.0/0"}},
		{"255.255.255.255", "255.255.255.255", []string{"255.255.255.255/32"}},
		{"2001:db8::", "2001:db8::ffff:ffff:ffff:ffff", []string{"2001:db8::/64"}},
		{"::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", []string{"::/0"}},
	}
	for _, tt := range tests {
		got := prefixStrings(rangePrefixes(addrRange{netip.MustParseAddr(tt.from), netip.MustParseAddr(tt.to)}))
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s-%s: %v, want %v", tt.from, tt.to, got, tt.want)
		}
	}
}

// TestIntervalRoundTrip checks that what we hand the kernel for an
// interval set decodes back to the same networks, in any element order,
// as the kernel lists them (it lists them in reverse).
func TestIntervalRoundTrip(t *testing.T) {
	tests := [][]string{
		{"10.99.5.2/32"},
		{"0.0.0.0/8", "10.0.0.0/8"},
		{"10.0.0.0/8", "192.168.0.0/16", "255.255.255.0/24"},
		{"0.0.0.0/0"},
		{"2001:db8::/32", "fe80::/64"},
		{"::/0"},
		{"ffff::/16"},
	}
	for _, tt := range tests {
		ps := canonicalPrefixes(prefixes(t, tt...))
		is4 := ps[0].Addr().Is4()
		var rs []addrRange
		for _, p := range ps {
			rs = append(rs, prefixRange(p))
		}
		elems := intervalElements(mergeRanges(rs), is4)
		slices.Reverse(elems)
		got := rangesPrefixes(rangesFromElements(elems, is4))
		if !slices.Equal(got, ps) {
			t.Errorf("%v: round trip gave %v", ps, got)
		}
	}
}

func TestIntervalElementsLikeNft(t *testing.T) {
	// nft adds 10.0.0.0/8 and 192.168.1.0/24 as: 0.0.0.0 end, 10.0.0.0,
	// 11.0.0.0 end, 192.168.1.0, 192.168.2.0 end (nft --debug=netlink).
	ps := canonicalPrefixes(prefixes(t, "192.168.1.0/24", "10.0.0.0/8"))
	var rs []addrRange
	for _, p := range ps {
		rs = append(rs, prefixRange(p))
	}
	got := intervalElements(rs, true)
	want := []intervalKey{
		{[]byte{0, 0, 0, 0}, true},
		{[]byte{10, 0, 0, 0}, false},
		{[]byte{11, 0, 0, 0}, true},
		{[]byte{192, 168, 1, 0}, false},
		{[]byte{192, 168, 2, 0}, true},
	}
	if !slices.EqualFunc(got, want, func(a, b intervalKey) bool { return a.end == b.end && slices.Equal(a.key, b.key) }) {
		t.Errorf("elements %v, want %v", got, want)
	}
}

func TestRangesFromElementsIgnoresJunk(t *testing.T) {
	got := rangesFromElements([]intervalKey{
		{[]byte{1, 2, 3}, false},          // wrong length
		{[]byte{10, 0, 0, 0}, true},       // an end without a start
		{[]byte{10, 0, 0, 5}, false},      // start
		{[]byte{10, 0, 0, 5}, true},       // empty range
		{[]byte{10, 0, 0, 9}, true},       // closes the start
		{[]byte{192, 168, 0, 1}, false},   // runs to the top
		{[]byte{192, 168, 0, 9, 1}, true}, // wrong length
	}, true)
	want := []addrRange{
		{netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("10.0.0.8")},
		{netip.MustParseAddr("192.168.0.1"), netip.MustParseAddr("255.255.255.255")},
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestRulesetEqual(t *testing.T) {
	a, _ := Build(Options{Allow: prefixes(t, "10.0.0.0/25", "10.0.0.128/25")})
	b, _ := Build(Options{Allow: prefixes(t, "10.0.0.0/24")})
	c, _ := Build(Options{Allow: prefixes(t, "10.0.0.0/24"), DomainMember: true})
	if !a.Equal(b) {
		t.Errorf("%v and %v should be equal", a, b)
	}
	if b.Equal(c) {
		t.Error("domain member should differ")
	}
}

func TestBuildExtraPorts(t *testing.T) {
	p1026, err := ParsePort("udp/1026")
	if err != nil {
		t.Fatal(err)
	}
	r, err := Build(Options{Extra: []Port{p1026, {Proto: "tcp", Number: 1139}, {Proto: "udp", Number: 137}, p1026}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.UDPPorts, []uint16{135, 137, 138, 1026}) || !slices.Equal(r.TCPPorts, []uint16{135, 139, 445, 1139}) {
		t.Errorf("ports udp %v tcp %v", r.UDPPorts, r.TCPPorts)
	}
	if got := r.Extra(); len(got) != 2 || got[0].String() != "udp/1026" || got[1].String() != "tcp/1139" {
		t.Errorf("Extra() = %v", got)
	}
	if !strings.Contains(r.String(), "1026") {
		t.Errorf("nft text lacks 1026:\n%s", r)
	}
	for _, bad := range []string{"1026", "udp/0", "udp/70000", "sctp/9", "udp/x"} {
		if _, err := ParsePort(bad); !errors.Is(err, ErrBadOption) {
			t.Errorf("ParsePort(%q) = %v", bad, err)
		}
	}
}
