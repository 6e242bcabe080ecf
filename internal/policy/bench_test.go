package policy

import (
	"strconv"

	"testing"

	"github.com/BurntSushi/toml"

	"github.com/netsend/messenger/internal/message"
)

// benchSpec turns on every kind of rule, as a site serious about spam
// would.
const benchSpec = `
trust = ["UPS", "10.9.0.0/16"]
block_senders = ["KNOWNSPAMMER", "192.0.2.0/24"]
[rate]
per_source = { rate = "100/1s", burst = 200 }
per_sender = { rate = "100/1s", burst = 200 }
global = { rate = "100000/1s" }
[spam_run]
window = "10m"
recipients = 20
sources = 20
[[rule]]
name = "pills"
text = "(?i)viagra|cialis"
action = "drop"
[[rule]]
name = "links"
url = "\\.(ru|example)(/|$)"
action = "quarantine"
[[rule]]
name = "admin"
recipient = "^ADMINISTRATOR$"
action = "quarantine"
`

// BenchmarkDecide measures decisions per second over a spam run from
// many sources to many recipients.
func BenchmarkDecide(b *testing.B) {
	p, err := Compile(mustSpec(b, benchSpec), Options{RPCAllow: []Net{{Local: true}}})
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([]*message.Message, 4096)
	for i := range msgs {
		msgs[i] = msg(mail, "SPAMMER"+strconv.Itoa(i%50), "USER"+strconv.Itoa(i%300),
			"127."+strconv.Itoa(i%7)+"."+strconv.Itoa(i%251)+".1:138", "Buy cheap software now, visit www.shop.test today")
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			p.Decide(msgs[i&4095])
			i++
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "decisions/s")
}

func mustSpec(tb testing.TB, src string) Spec {
	tb.Helper()
	spec := DefaultSpec()
	if _, err := toml.Decode(src, &spec); err != nil {
		tb.Fatal(err)
	}
	return spec
}
