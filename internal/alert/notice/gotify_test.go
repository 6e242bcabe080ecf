package notice

import (
	"bytes"
	"errors"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/netsend/messenger/internal/message"
)

// curlForm is the body `curl -F k=v ...` sends, and its Content-Type.
func curlForm(t testing.TB, kv ...string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(kv); i += 2 {
		if err := w.WriteField(kv[i], kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.FormDataContentType(), buf.Bytes()
}

func TestDecodeGotify(t *testing.T) {
	formType, formBody := curlForm(t, "title", "my title", "message", "my message", "priority", "5")
	// curl -F message="with a file part" -F message=@notes.txt
	var fileBody bytes.Buffer
	fw := multipart.NewWriter(&fileBody)
	if err := fw.WriteField("message", "with a file part"); err != nil {
		t.Fatal(err)
	}
	part, err := fw.CreateFormFile("message", "notes.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := part.Write([]byte("not the message")); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name        string
		contentType string
		body        []byte
		want        Notice
	}{
		{"JSON", "application/json", readTestdata(t, "gotify_message.json"),
			Notice{Alert: message.Alert{Source: "gotify", Severity: "critical", Title: "Uptime check"}, Text: "https://shop.example.net is down (HTTP 503)"}},
		{"JSON with charset", "application/json; charset=utf-8", []byte(`{"message":"Backup done","priority":2}`),
			Notice{Alert: message.Alert{Source: "gotify", Severity: "info"}, Text: "Backup done"}},
		{"JSON without priority", "application/json", []byte(`{"message":"m","title":"t"}`),
			Notice{Alert: message.Alert{Source: "gotify", Severity: "info", Title: "t"}, Text: "m"}},
		{"JSON null extras", "application/json", []byte(`{"message":"m","extras":null}`),
			Notice{Alert: message.Alert{Source: "gotify", Severity: "info"}, Text: "m"}},
		{"curl -F", formType, formBody,
			Notice{Alert: message.Alert{Source: "gotify", Severity: "warning", Title: "my title"}, Text: "my message"}},
		{"multipart with a file part", fw.FormDataContentType(), fileBody.Bytes(),
			Notice{Alert: message.Alert{Source: "gotify", Severity: "info"}, Text: "with a file part"}},
		{"curl -d form", "application/x-www-form-urlencoded", []byte("title=Disk&message=sda+is+98%25+full%0Asdb+is+fine&priority=10"),
			Notice{Alert: message.Alert{Source: "gotify", Severity: "critical", Title: "Disk"}, Text: "sda is 98% full\nsdb is fine"}},
		{"form with an empty priority", "application/x-www-form-urlencoded", []byte("message=m&priority="),
			Notice{Alert: message.Alert{Source: "gotify", Severity: "info"}, Text: "m"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeGotify(tc.contentType, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			checkNotice(t, got, SourceGotify)
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", render(got), render(tc.want))
			}
		})
	}
}

func TestGotifySeverity(t *testing.T) {
	for p, want := range map[int]message.Severity{
		-5: "info", 0: "info", 1: "info", 3: "info", 4: "warning", 7: "warning", 8: "critical", 10: "critical", 1 << 40: "critical",
	} {
		if got := gotifySeverity(p); got != want {
			t.Errorf("gotifySeverity(%d) = %s, want %s", p, got, want)
		}
	}
}

func TestDecodeGotifyErrors(t *testing.T) {
	noBoundaryType, _ := curlForm(t)
	noBoundaryType = strings.Split(noBoundaryType, ";")[0]
	for _, tc := range []struct {
		name, contentType string
		body              []byte
		words             []string
	}{
		{"JSON without message", "application/json", []byte(`{"title":"t","priority":5}`), []string{"message is missing"}},
		{"JSON empty message", "application/json", []byte(`{"message":"  \n "}`), []string{"message is missing or empty"}},
		{"JSON priority as a string", "application/json", []byte(`{"message":"m","priority":"5"}`), []string{"priority"}},
		{"JSON priority a fraction", "application/json", []byte(`{"message":"m","priority":4.5}`), []string{"priority"}},
		{"JSON extras not an object", "application/json", []byte(`{"message":"m","extras":[1]}`), []string{"extras is not a JSON object"}},
		{"not JSON", "application/json", []byte(`message=m`), []string{"not Gotify's message JSON"}},
		{"form without message", "application/x-www-form-urlencoded", []byte("title=t"), []string{"message is missing"}},
		{"form bad priority", "application/x-www-form-urlencoded", []byte("message=m&priority=high"), []string{`priority "high" is not an integer`}},
		{"form bad escape", "application/x-www-form-urlencoded", []byte("message=%zz"), []string{"form body"}},
		{"form not UTF-8", "application/x-www-form-urlencoded", []byte("message=caf%E9"), []string{"message is not UTF-8"}},
		{"multipart without boundary", noBoundaryType, []byte("--x\r\n"), []string{"no boundary"}},
		{"multipart garbage", "multipart/form-data; boundary=b", []byte("not multipart"), []string{"multipart body"}},
		{"text/plain", "text/plain", []byte("message"), []string{`Content-Type "text/plain"`}},
		{"no content type", "", []byte(`{"message":"m"}`), []string{"Content-Type"}},
		{"message too long", "application/json", []byte(`{"message":"` + strings.Repeat("x", message.MaxTextLen+1) + `"}`), []string{"4096 characters, limit 4095"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := DecodeGotify(tc.contentType, tc.body)
			wantErr(t, err, tc.words...)
			if n != (Notice{}) {
				t.Errorf("an error came with a notice: %+v", n)
			}
		})
	}
	_, err := DecodeGotify("application/json", make([]byte, MaxBodyLen+1))
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized body: %v, want ErrTooLarge", err)
	}
}

func TestDecodeGotifyManyParts(t *testing.T) {
	kv := []string{"message", "m"}
	for range maxGotifyFields + 1 {
		kv = append(kv, "x", "y")
	}
	ct, body := curlForm(t, kv...)
	_, err := DecodeGotify(ct, body)
	wantErr(t, err, "more than 64 parts")
}
