package notice

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/netsend/messenger/internal/message"
)

// headers builds an http.Header the way net/http fills one from the wire.
func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestDecodeNtfy(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  NtfyRequest
		want Notice
	}{
		{
			name: "curl -d",
			req:  NtfyRequest{Topic: "backups", Body: []byte("Backup successful 😀")},
			want: Notice{Alert: message.Alert{Source: "ntfy", Severity: "info"}, Text: "Backup successful 😀", To: "backups"},
		},
		{
			name: "headers",
			req: NtfyRequest{Topic: "phil_alerts", Header: headers("Title", "Unauthorized access detected", "Priority", "urgent", "Tags", "warning,skull"),
				Body: []byte("Remote access to phils-laptop detected. Act right away.")},
			want: Notice{Alert: message.Alert{Source: "ntfy", Severity: "critical", Title: "Unauthorized access detected"},
				Text: "Remote access to phils-laptop detected. Act right away.\nTags: warning, skull", To: "phil_alerts"},
		},
		{
			name: "X- headers and short names",
			req:  NtfyRequest{Topic: "t", Header: headers("X-Title", "Disk", "X-Priority", "4", "Ta", " a , ,b "), Body: []byte("disk 91% full\n")},
			want: Notice{Alert: message.Alert{Source: "ntfy", Severity: "warning", Title: "Disk"}, Text: "disk 91% full\nTags: a, b", To: "t"},
		},
		{
			name: "p and t headers",
			req:  NtfyRequest{Topic: "t", Header: headers("P", "high", "T", "Short"), Body: []byte("x")},
			want: Notice{Alert: message.Alert{Source: "ntfy", Severity: "warning", Title: "Short"}, Text: "x", To: "t"},
		},
		{
			name: "query parameters",
			req: NtfyRequest{Topic: "mytopic", Query: url.Values{"title": {"From the query"}, "priority": {"max"}, "tags": {"rotating_light"}},
				Body: []byte("body")},
			want: Notice{Alert: message.Alert{Source: "ntfy", Severity: "critical", Title: "From the query"}, Text: "body\nTags: rotating_light", To: "mytopic"},
		},
		{
			name: "a header wins over the query",
			req:  NtfyRequest{Topic: "t", Header: headers("Title", "header"), Query: url.Values{"x-title": {"query"}, "p": {"1"}}, Body: []byte("x")},
			want: Notice{Alert: message.Alert{Source: "ntfy", Severity: "info", Title: "header"}, Text: "x", To: "t"},
		},
		{
			name: "message parameter when the body is empty",
			req:  NtfyRequest{Topic: "t", Query: url.Values{"message": {`first\nsecond`}}},
			want: Notice{Alert: message.Alert{Source: "ntfy", Severity: "info"}, Text: "first\nsecond", To: "t"},
		},
		{
			name: "the body wins over the message parameter",
			req:  NtfyRequest{Topic: "t", Header: headers("X-Message", "header"), Body: []byte("body")},
			want: Notice{Alert: message.Alert{Source: "ntfy", Severity: "info"}, Text: "body", To: "t"},
		},
		{
			name: "no message at all",
			req:  NtfyRequest{Topic: "t", Header: headers("Title", "Doorbell")},
			want: Notice{Alert: message.Alert{Source: "ntfy", Severity: "info", Title: "Doorbell"}, Text: "triggered", To: "t"},
		},
		{
			name: "RFC 2047 title",
			req:  NtfyRequest{Topic: "t", Header: headers("Title", "=?UTF-8?B?RGllIFfDpHNjaGUgaXN0IGZlcnRpZw==?="), Body: []byte("x")},
			want: Notice{Alert: message.Alert{Source: "ntfy", Severity: "info", Title: "Die Wäsche ist fertig"}, Text: "x", To: "t"},
		},
		{
			name: "RFC 9218 Priority header from a proxy is not a priority",
			req:  NtfyRequest{Topic: "t", Header: headers("Priority", "u=3, i"), Query: url.Values{"p": {"5"}}, Body: []byte("x")},
			want: Notice{Alert: message.Alert{Source: "ntfy", Severity: "critical"}, Text: "x", To: "t"},
		},
		{
			name: "CRLF body",
			req:  NtfyRequest{Topic: "t", Body: []byte("one\r\ntwo\r\n")},
			want: Notice{Alert: message.Alert{Source: "ntfy", Severity: "info"}, Text: "one\ntwo", To: "t"},
		},
		{
			name: "JSON publish",
			req:  NtfyRequest{Body: readTestdata(t, "ntfy_publish.json")},
			want: Notice{Alert: message.Alert{Source: "ntfy", Severity: "warning", Title: "Backup failed"},
				Text: "Nightly backup of /srv failed: disk full\nTags: warning, backup", To: "backups"},
		},
		{
			name: "JSON publish: headers fill in, the body wins",
			req: NtfyRequest{Header: headers("Title", "from header", "Priority", "5", "Tags", "h"),
				Body: []byte(`{"topic":"t","title":"from body","tags":["b"]}`)},
			want: Notice{Alert: message.Alert{Source: "ntfy", Severity: "critical", Title: "from body"}, Text: "triggered\nTags: b", To: "t"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeNtfy(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			checkNotice(t, got, SourceNtfy)
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", render(got), render(tc.want))
			}
		})
	}
}

func TestDecodeNtfyPriorities(t *testing.T) {
	for v, want := range map[string]message.Severity{
		"1": "info", "min": "info", "2": "info", "low": "info", "3": "info", "default": "info", "DEFAULT": "info",
		"4": "warning", "high": "warning", "5": "critical", "max": "critical", "urgent": "critical", " Urgent ": "critical",
	} {
		n, err := DecodeNtfy(NtfyRequest{Topic: "t", Header: headers("X-Priority", v), Body: []byte("x")})
		if err != nil {
			t.Errorf("priority %q: %v", v, err)
			continue
		}
		if n.Alert.Severity != want {
			t.Errorf("priority %q: %s, want %s", v, n.Alert.Severity, want)
		}
	}
	for p, want := range map[int]message.Severity{1: "info", 3: "info", 4: "warning", 5: "critical"} {
		n, err := DecodeNtfy(NtfyRequest{Body: []byte(`{"topic":"t","priority":` + string(rune('0'+p)) + `}`)})
		if err != nil || n.Alert.Severity != want {
			t.Errorf("JSON priority %d: %s, %v; want %s", p, n.Alert.Severity, err, want)
		}
	}
}

func TestDecodeNtfyErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		req   NtfyRequest
		words []string
	}{
		{"bad priority header", NtfyRequest{Topic: "t", Header: headers("X-Priority", "6"), Body: []byte("x")}, []string{"header X-Priority", `"6"`}},
		{"bad priority short header", NtfyRequest{Topic: "t", Header: headers("Prio", "critical"), Body: []byte("x")}, []string{"header Prio", `"critical"`}},
		{"bad priority query", NtfyRequest{Topic: "t", Query: url.Values{"p": {"0"}}, Body: []byte("x")}, []string{"query parameter p", `"0"`}},
		{"bad JSON priority", NtfyRequest{Body: []byte(`{"topic":"t","priority":9}`)}, []string{"JSON priority 9"}},
		{"JSON priority as a word", NtfyRequest{Body: []byte(`{"topic":"t","priority":"high"}`)}, []string{"JSON", "priority"}},
		{"binary body", NtfyRequest{Topic: "t", Body: []byte{0x89, 'P', 'N', 'G', 0xff, 0xfe}}, []string{"not UTF-8", "attachment"}},
		{"topic with a slash", NtfyRequest{Topic: "a/b", Body: []byte("x")}, []string{"topic", `"/"`}},
		{"topic with a dot", NtfyRequest{Topic: "a.b", Body: []byte("x")}, []string{"topic", `"."`}},
		{"topic too long", NtfyRequest{Topic: strings.Repeat("a", 65), Body: []byte("x")}, []string{"topic is 65 characters, limit 64"}},
		{"JSON without topic", NtfyRequest{Body: []byte(`{"message":"x"}`)}, []string{"JSON topic", "missing"}},
		{"not JSON to /", NtfyRequest{Body: []byte("hello")}, []string{"must be ntfy's JSON"}},
		{"title not UTF-8", NtfyRequest{Topic: "t", Header: headers("Title", "caf\xe9"), Body: []byte("x")}, []string{"header Title", "not UTF-8"}},
		{"tags not UTF-8", NtfyRequest{Topic: "t", Query: url.Values{"tags": {"\xff"}}, Body: []byte("x")}, []string{"query parameter tags", "not UTF-8"}},
		{"message too long", NtfyRequest{Topic: "t", Body: []byte(strings.Repeat("é", message.MaxTextLen+1))}, []string{"4096 characters, limit 4095"}},
		{"message and tags too long", NtfyRequest{Topic: "t", Header: headers("Tags", "a"), Body: []byte(strings.Repeat("x", message.MaxTextLen-3))}, []string{"with its tags", "limit 4095"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := DecodeNtfy(tc.req)
			wantErr(t, err, tc.words...)
			if n != (Notice{}) {
				t.Errorf("an error came with a notice: %+v", n)
			}
		})
	}
	_, err := DecodeNtfy(NtfyRequest{Topic: "t", Body: make([]byte, MaxBodyLen+1)})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized body: %v, want ErrTooLarge", err)
	}
}

func TestDecodeNtfyLongTitleIsCut(t *testing.T) {
	n, err := DecodeNtfy(NtfyRequest{Topic: "t", Header: headers("Title", strings.Repeat("T", 1000)), Body: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	checkNotice(t, n, SourceNtfy)
	if want := strings.Repeat("T", message.MaxAlertTitleLen-1) + "…"; n.Alert.Title != want {
		t.Errorf("title %q", n.Alert.Title)
	}
}

func BenchmarkDecodeNtfy(b *testing.B) {
	for _, bc := range []struct {
		name string
		req  NtfyRequest
	}{
		{"headers", NtfyRequest{Topic: "alerts", Header: headers("Title", "Backup failed", "Priority", "high", "Tags", "warning,backup"),
			Body: []byte("Nightly backup of /srv failed: disk full")}},
		{"json", NtfyRequest{Body: readTestdata(b, "ntfy_publish.json")}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := DecodeNtfy(bc.req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
