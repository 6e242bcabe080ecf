package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/cli/cmdutil"
)

// defaultWait is how long a bare --wait waits for the delivered receipt.
const defaultWait = time.Minute

// hubOutcome says what became of a message handed to the hub.
func hubOutcome(d apitype.Delivery) string {
	switch d.State {
	case apitype.SentDelivered, apitype.SentRead:
		return fmt.Sprintf("The message was delivered to %s on %s.", d.To, d.Addr)
	case apitype.SentQueued:
		if d.Online {
			return fmt.Sprintf("The message to %s is queued in the outbox: the hub cannot be reached now; it goes when it can.", d.To)
		}
		return fmt.Sprintf("The message to %s is queued: %s is offline; it will be delivered when it returns.", d.To, d.Addr)
	}
	if !d.Online {
		return fmt.Sprintf("The message to %s is queued in the hub: %s is offline; it will be delivered when it returns.", d.To, d.Addr)
	}
	return fmt.Sprintf("The message was sent to %s on %s through the hub.", d.To, d.Addr)
}

func newSendCmd(g *cmdutil.Globals) *cobra.Command {
	var req apitype.SendRequest
	var asJSON bool
	var wait, expires time.Duration
	cmd := &cobra.Command{
		Use:   "send {NAME | '*' | --domain D | --users} [TEXT...]",
		Short: "Send a message, like net send",
		Long: `Send a message, as net send did:

  messenger send NAME TEXT       to one messenger name, over a NetBIOS session
  messenger send '*' TEXT        to everyone in our workgroup (mailslot broadcast)
  messenger send --domain D TEXT to every messenger name of workgroup or domain D
  messenger send --users TEXT    to every user logged on to this host

A name the hub's registry knows (another Messenger daemon, on any subnet)
goes through the hub: authenticated, kept while its host is offline ("queued",
exit 0), with receipts ("messenger sent"); --wait blocks until it is stored.

Without TEXT the message is read from standard input. The daemon sends it,
so "messenger serve" must run. Exit status: 0 sent, 2 bad arguments or
message, 3 the name could not be found, 4 the recipient is not accepting
messages, 5 network error or timeout, 1 anything else.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			rest := args
			if req.Domain == "" && !req.Users {
				if len(args) == 0 {
					return cmdutil.Exit(cmdutil.ExitUsage, errors.New("say who to send to: a name, '*', --domain D or --users"))
				}
				req.To, rest = args[0], args[1:]
			}
			text, err := messageText(cmd, rest)
			if err != nil {
				return err
			}
			req.Text = text
			if req.From == "" {
				if u, err := user.Current(); err == nil {
					req.From = u.Username
				}
				if len(req.From) > 15 {
					req.From = req.From[:15]
				}
			}
			c, err := g.Client()
			if err != nil {
				return err
			}
			req.Wait, req.Expires = wait, expires
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*cmdutil.RequestTimeout+wait)
			defer cancel()
			var stop func()
			if wait > 0 {
				stop = progress(cmd.ErrOrStderr(), fmt.Sprintf("Waiting up to %s for %s to store the message", wait, req.To))
			}
			deliveries, err := c.Send(ctx, req)
			if stop != nil {
				stop()
			}
			var rerr *api.RequestError
			if errors.As(err, &rerr) {
				return cmdutil.Exit(cmdutil.ExitCodeFor(rerr.Code), errors.New(rerr.Msg))
			}
			if err != nil {
				return cmdutil.DaemonError(err, g.DataDirHint())
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if err := writeJSONLines(w, deliveries); err != nil {
					return err
				}
			}
			worst := 0
			for _, d := range deliveries {
				if d.OK() {
					if !asJSON {
						switch {
						case d.Via == "mailslot":
							fmt.Fprintf(w, "The message was sent to all messenger names of %s.\n", d.To)
						case d.Via == "hub" && d.ID == "":
							fmt.Fprintf(w, "The message was sent through the hub to all Messenger hosts of %s.\n", d.To)
						case d.Via == "hub":
							fmt.Fprintln(w, hubOutcome(d))
						default:
							fmt.Fprintf(w, "The message was successfully sent to %s.\n", d.To)
						}
					}
					continue
				}
				fmt.Fprintf(os.Stderr, "An error occurred while sending a message to %s.\n\n%s\n", d.To, d.Error)
				worst = max(worst, cmdutil.ExitCodeFor(d.Code))
			}
			if worst != 0 {
				return cmdutil.Exit(worst, cmdutil.SilentError{})
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Domain, "domain", "", "send to every messenger name of this workgroup or domain")
	f.BoolVar(&req.Users, "users", false, "send to every user logged on to this host")
	f.StringVar(&req.From, "from", "", "sender name shown to the recipient (default your user name, at most 15 characters)")
	f.StringVar(&req.Address, "address", "", "HOST[:PORT] to connect to, skipping name resolution (like smbclient -I/-p)")
	f.StringVar(&req.Source, "source", "", "local IP address to send from (default: chosen by routing)")
	f.StringVar(&req.Via, "via", "", "hub, smb or rpc: only this path (default: the hub for names its registry knows, else a NetBIOS session, then NetrSendMessage toward trusted networks)")
	f.DurationVar(&wait, "wait", 0, "through the hub: wait this long for the recipient to store the message (like msg /W); --wait alone waits 1m")
	f.Lookup("wait").NoOptDefVal = defaultWait.String()
	f.DurationVar(&expires, "expires", 0, "through the hub: drop the message if its recipient's host has not taken it within this long (like msg /TIME)")
	f.BoolVar(&asJSON, "json", false, "print each recipient's outcome as a JSON object")
	return cmd
}

// messageText is the message of a verb: its TEXT arguments joined, or
// without them standard input, as net send and write(1) take it.
func messageText(cmd *cobra.Command, args []string) (string, error) {
	if len(args) > 0 {
		return strings.Join(args, " "), nil
	}
	b, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), 1<<20))
	if err != nil {
		return "", fmt.Errorf("reading the message from standard input: %w", err)
	}
	return strings.TrimRight(string(b), "\n"), nil
}
