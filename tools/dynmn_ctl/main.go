// Command dynmn_ctl is the tunnel control tool of the mobile node dynmnd:
// it sets the tunnelling mode, connects, disconnects, asks for a location
// update and prints the mobile's status, over the mobile node's control
// socket. It is the small tool for scripts and network managers; dynmn_tool
// has every command.
//
//	dynmn_ctl [-p PATH] [-json] [-t DURATION] [command [args]]
//
// Commands: help, quit, tunnel <full|triangle|none>, disconnect, connect,
// update, status. Without a command it reads commands at a "dynmn_ctl> "
// prompt. See docs/TOOLS.md.
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
	Name:   "dynmn_ctl",
	Agent:  "mn",
	Daemon: "dynmnd",
	Prompt: "dynmn_ctl> ",
	About:  "The tunnel control tool of the Dynamics mobile node dynmnd.",
	Commands: []cli.Command{
		cli.Tunnel(false),
		cli.Disconnect(),
		cli.Connect(),
		cli.Update(),
		cli.Status(false),
	},
}

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return tool.Run(context.Background(), args, stdin, stdout, stderr)
}
