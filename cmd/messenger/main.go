// Command messenger is the Messenger service: `messenger serve` runs the
// daemon, the other verbs talk to it.
package main

import (
	"os"

	"github.com/netsend/messenger/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args, os.Stdin, os.Stdout, os.Stderr))
}
