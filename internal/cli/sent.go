package cli

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/netsend/messenger/internal/api"
	"github.com/netsend/messenger/internal/apitype"
	"github.com/netsend/messenger/internal/cli/cmdutil"
	"github.com/netsend/messenger/internal/sink/popup"
)

func newSentCmd(g *cmdutil.Globals) *cobra.Command {
	var asJSON bool
	var state string
	var limit int
	cmd := &cobra.Command{
		Use:   "sent [--json] [--state S] [--limit N]",
		Short: "List messages sent through the hub, with their receipts",
		Long: `List the messages this host sent through the hub, oldest first, with
where each stands: queued (in the local outbox, or for a host that is
offline), sent (kept by the hub), delivered (stored by the recipient),
read (opened), expired, failed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var rows []apitype.Sent
			if err := g.Call(cmd, func(ctx context.Context, c *api.Client) (err error) {
				rows, err = c.Sent(ctx, apitype.SentState(state), 0, limit)
				return err
			}); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				return writeJSONLines(w, rows)
			}
			if len(rows) == 0 {
				fmt.Fprintln(w, "Nothing was sent through the hub.")
				return nil
			}
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTO\tHOST\tSTATE\tSINCE\tTEXT")
			for _, r := range rows {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", r.ID, popup.OneLine(r.To), popup.OneLine(r.Host), r.State,
					r.Updated.Local().Format(time.DateTime), summary(r.Text, 40))
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, "one JSON object per message")
	f.StringVar(&state, "state", "", "only messages in this state (queued, sent, delivered, read, expired, failed)")
	f.IntVar(&limit, "limit", 0, "at most this many (the newest)")
	return cmd
}
