// Command dynmn_tool is the operator tool of the mobile node dynmnd: it
// prints the mobile's status and care-of address, connects, disconnects,
// asks for a location update, waits for a confirmed registration, tells the
// mobile it is at home, and shows or sets the tunnelling mode, over the
// mobile node's control socket.
//
//	dynmn_tool [-p PATH] [-json] [-t DURATION] [command [args]]
//
// Commands: help, quit, status [interval], careof, connect, disconnect,
// update, confirm, home, tunnel [full|triangle|none]. Without a command it
// reads commands at a "dynmn> " prompt. See docs/TOOLS.md.
//
// Exit status: 0 success, 1 the agent answered with an error, 2 usage
// error, 3 agent unreachable, 4 timeout.
package main

import (
	"context"
	"io"
	"os"

	"github.com/dynamics-go/dynamics/tools/internal/cli"
)

var tool = &cli.Tool{
	Name:   "dynmn_tool",
	Agent:  "mn",
	Daemon: "dynmnd",
	Prompt: "dynmn> ",
	About:  "Controls and monitors the Dynamics mobile node dynmnd.",
	Commands: []cli.Command{
		cli.Status(true),
		cli.MobileCareOf(),
		cli.Connect(),
		cli.Disconnect(),
		cli.Update(),
		cli.Confirm(),
		cli.Home(),
		cli.Tunnel(true),
	},
}

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return tool.Run(context.Background(), args, stdin, stdout, stderr)
}
