// Command dynha_tool is the operator tool of the home agent dynhad: it
// lists the mobiles' tunnels, shows one, prints a mobile's care-of address,
// destroys a binding, allows or refuses a mobile, and prints the agent's
// status and counters, over the agent's control socket.
//
//	dynha_tool [-p PATH] [-json] [-t DURATION] [command [args]]
//
// Commands: help, quit, list [interval], show <home> [interval],
// careof <home>, destroy <home>, enable <home>, disable <home>,
// status [interval]. Without a command it reads commands at a "dynha> "
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
	Name:   "dynha_tool",
	Agent:  "ha",
	Daemon: "dynhad",
	Prompt: "dynha> ",
	About:  "Controls and monitors the Dynamics home agent dynhad.",
	Commands: []cli.Command{
		cli.List("ha"),
		cli.Show(),
		cli.HomeCareOf(),
		cli.Destroy(),
		cli.Enable(true),
		cli.Enable(false),
		cli.Status(true),
	},
}

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return tool.Run(context.Background(), args, stdin, stdout, stderr)
}
