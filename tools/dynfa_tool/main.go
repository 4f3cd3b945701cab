// Command dynfa_tool is the operator tool of the foreign agent dynfad: it
// lists the visiting mobiles' tunnels, shows one, destroys a binding, and
// prints the agent's status and counters, over the agent's control socket.
//
//	dynfa_tool [-p PATH] [-json] [-t DURATION] [command [args]]
//
// Commands: help, quit, list [interval], show <home> [interval],
// destroy <home>, status [interval]. Without a command it reads commands
// at a "dynfa> " prompt. See docs/TOOLS.md.
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
	Name:   "dynfa_tool",
	Agent:  "fa",
	Daemon: "dynfad",
	Prompt: "dynfa> ",
	About:  "Controls and monitors the Dynamics foreign agent dynfad.",
	Commands: []cli.Command{
		cli.List("fa"),
		cli.Show(),
		cli.Destroy(),
		cli.Status(true),
	},
}

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return tool.Run(context.Background(), args, stdin, stdout, stderr)
}
