package notice

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// Every fuzz target asserts the same two things: no input panics a
// decoder, and whatever it accepts is a Notice that passes
// message.ValidateAlert with a non-empty UTF-8 text within
// message.MaxTextLen (checkNotice). Decoding is also deterministic.

func FuzzDecodeAlertmanager(f *testing.F) {
	for _, name := range []string{"alertmanager_firing.json", "alertmanager_resolved.json", "alertmanager_mixed.json"} {
		f.Add(readTestdata(f, name))
	}
	f.Add(manyAlerts(f, 30, 7))
	f.Add([]byte(`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"a":""}}]}`))
	f.Add([]byte(`{"version":"4","status":"resolved","alerts":[{"status":"resolved","labels":{"alertname":"\u0000\n"},"annotations":{"summary":"\r\r\n"}}],"truncatedAlerts":18446744073709551615}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := DecodeAlertmanager(body)
		if err != nil {
			if n != (Notice{}) {
				t.Fatalf("error %v came with a notice", err)
			}
			return
		}
		checkNotice(t, n, SourceAlertmanager)
		if n.Alert.Status == "" {
			t.Fatal("an Alertmanager notice without a status")
		}
		again, _ := DecodeAlertmanager(body)
		if again != n {
			t.Fatalf("decoding twice differs:\n%s\n%s", render(n), render(again))
		}
	})
}

func FuzzDecodeNtfy(f *testing.F) {
	f.Add("backups", "Backup failed", "high", "warning,backup", "p=5&title=q", []byte("Nightly backup failed"))
	f.Add("", "", "", "", "", readTestdata(f, "ntfy_publish.json"))
	f.Add("t", "=?UTF-8?B?RGllIFfDpHNjaGU=?=", "u=3, i", " , ", "message=a\\nb", []byte(""))
	f.Add("", "x", "9", "\xff", "", []byte(`{"topic":"t","priority":5,"tags":["a",""]}`))
	f.Fuzz(func(t *testing.T, topic, title, priority, tags, query string, body []byte) {
		q, _ := url.ParseQuery(query)
		h := http.Header{}
		h.Set("Title", title)
		h.Set("Priority", priority)
		h.Set("Tags", tags)
		req := NtfyRequest{Topic: topic, Header: h, Query: q, Body: body}
		n, err := DecodeNtfy(req)
		if err != nil {
			if n != (Notice{}) {
				t.Fatalf("error %v came with a notice", err)
			}
			return
		}
		checkNotice(t, n, SourceNtfy)
		if CheckNtfyTopic(n.To) != nil {
			t.Fatalf("accepted topic %q is not an ntfy topic", n.To)
		}
		if topic != "" && n.To != topic {
			t.Fatalf("topic %q became %q", topic, n.To)
		}
		if n.Alert.Status != "" || n.Alert.Key != "" {
			t.Fatalf("an ntfy notice with status %q, key %q", n.Alert.Status, n.Alert.Key)
		}
	})
}

func FuzzDecodeGotify(f *testing.F) {
	f.Add("application/json", readTestdata(f, "gotify_message.json"))
	f.Add("application/x-www-form-urlencoded", []byte("title=Disk&message=sda+full&priority=5"))
	ct, body := curlForm(f, "title", "t", "message", "m", "priority", "8")
	f.Add(ct, body)
	f.Add("multipart/form-data; boundary=b", []byte("--b\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nhi\r\n--b--\r\n"))
	f.Add("application/json", []byte(`{"message":"m","priority":-9223372036854775808,"extras":{}}`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		n, err := DecodeGotify(contentType, body)
		if err != nil {
			if n != (Notice{}) {
				t.Fatalf("error %v came with a notice", err)
			}
			return
		}
		checkNotice(t, n, SourceGotify)
		if strings.TrimSpace(n.Text) != n.Text {
			t.Fatalf("text %q is not trimmed", n.Text)
		}
	})
}

func FuzzFromNUT(f *testing.F) {
	f.Add("ONBATT", "ups1@localhost", "UPS ups1@localhost on battery", false)
	f.Add("SHUTDOWN", "", "Auto logout and shutdown proceeding", false)
	f.Add("NEWTYPE%s%d", "ups\n\xff", "\xe0 100%", true)
	f.Fuzz(func(t *testing.T, ntype, ups, msg string, extraArg bool) {
		args := []string{msg}
		if extraArg {
			args = append(args, "x")
		}
		n, err := FromNUT(env(map[string]string{"NOTIFYTYPE": ntype, "UPSNAME": ups}), args)
		if err != nil {
			if n != (Notice{}) {
				t.Fatalf("error %v came with a notice", err)
			}
			return
		}
		checkNotice(t, n, SourceNUT)
		if extraArg || ntype == "" {
			t.Fatalf("accepted %d arguments with NOTIFYTYPE %q", len(args), ntype)
		}
		if !strings.HasPrefix(n.Alert.Key, "nut:") {
			t.Fatalf("key %q", n.Alert.Key)
		}
	})
}

func FuzzFromClamAV(f *testing.F) {
	f.Add("/home/ann/eicar.com", "Win.Test.EICAR_HDB-1")
	f.Add("/tmp/a\nFile: b\xff\u202e", "V\x00")
	f.Fuzz(func(t *testing.T, file, virus string) {
		n, err := FromClamAV(env(map[string]string{ClamAVFileVar: file, ClamAVVirusVar: virus}))
		if err != nil {
			if n != (Notice{}) {
				t.Fatalf("error %v came with a notice", err)
			}
			if file != "" && virus != "" {
				t.Fatalf("refused a virus event with both variables set: %v", err)
			}
			return
		}
		checkNotice(t, n, SourceClamAV)
		// Names never break the text's lines: it has exactly its three.
		if c := strings.Count(n.Text, "\n"); c != 2 {
			t.Fatalf("text has %d line breaks: %q", c, n.Text)
		}
	})
}

func FuzzFromSystemd(f *testing.F) {
	f.Add("exit-code", "exited", "1", "cc8fdc149b2b4ca698d4f259f4054236", "myfailer.service", "myfailer.service", "Starting...\nfailed")
	f.Add("", "", "", "", "", "-.mount", "")
	f.Add("success", "dumped", "SEGV", "x", "a b", "--all", "\x1b[0m\xff\n\n")
	f.Fuzz(func(t *testing.T, result, code, status, invocation, monitorUnit, unit, log string) {
		getenv := env(map[string]string{
			SystemdResultVar: result, SystemdExitCodeVar: code, SystemdExitStatusVar: status,
			SystemdInvocationIDVar: invocation, SystemdUnitVar: monitorUnit,
		})
		argv := SystemdJournalArgs(getenv, unit)
		if argv != nil {
			if argv[0] != "journalctl" {
				t.Fatalf("argv %q does not start with journalctl", argv)
			}
			// Only our own options start with "-"; what came from the
			// environment or the unit is inside a match or --unit=.
			for _, a := range argv[1:] {
				switch {
				case slices.Contains([]string{"--no-pager", "--quiet", "--output=cat", "--lines=10", "+"}, a),
					strings.HasPrefix(a, "--unit="), strings.HasPrefix(a, "_SYSTEMD_INVOCATION_ID="), strings.HasPrefix(a, "INVOCATION_ID="):
				default:
					t.Fatalf("argv %q has an argument %q from the input", argv, a)
				}
			}
		}
		n, err := FromSystemd(getenv, unit, strings.Split(log, "\n"))
		if err != nil {
			if n != (Notice{}) {
				t.Fatalf("error %v came with a notice", err)
			}
			return
		}
		checkNotice(t, n, SourceSystemd)
		if argv == nil && !isInvocationID(invocation) {
			t.Fatalf("FromSystemd accepted unit %q (MONITOR_UNIT %q) that SystemdJournalArgs refused", unit, monitorUnit)
		}
		if !strings.HasPrefix(n.Alert.Key, "systemd:") {
			t.Fatalf("key %q", n.Alert.Key)
		}
	})
}
