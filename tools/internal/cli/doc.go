// Package cli is what the operator tools dynha_tool, dynfa_tool,
// dynmn_tool and dynmn_ctl are made of: a Tool names its agent and lists
// its Commands, and Tool.Run carries out one command line, one-shot or as
// an interactive session. Each tool's main package is a Tool value and a
// run function.
//
// # Command lines
//
//	TOOL [-p PATH] [-json] [-t DURATION] [command [args]]
//
// With a command the tool runs it and exits. Without one it reads commands
// from stdin: on a terminal at a prompt ("dynha> ") with line editing and
// history (golang.org/x/term, the terminal raw only while a line is read),
// otherwise plain lines, so a script can pipe commands in. Command names
// and tunnelling modes are matched without regard to case; help and quit
// exist in every tool; empty lines and lines starting with # are skipped.
//
// # Connection
//
// A session dials the agent (api.Dial) for its first call and keeps the
// connection for the next ones. -p names the socket; by default it is the
// agent's admin socket (api.DefaultSocket). When that socket is not
// accessible (os.ErrPermission) and the command is read-only, the session
// falls back to the agent's read-only monitor socket and says so on
// stderr once. A command that changes the agent (Command.Write) on a
// session that fell back dials the admin socket again.
//
// Each call waits -t (DefaultTimeout, 5s, when not given); Blocking
// commands (connect, confirm) wait without a limit unless -t is given. A
// call is abandoned on SIGINT (in an interactive session) or when the
// context is cancelled, by closing the connection, which makes the agent
// cancel it too. Any error other than the agent's own answer closes the
// connection, so the next command dials afresh.
//
// # Output
//
// For people: tables (text/tabwriter) and "field: value" blocks, an empty
// table as "no tunnels". With -json each result is one JSON document on
// one line, with the field names of the *JSON types in this package
// (addresses as strings, durations in whole seconds). A command given an
// interval repeats every interval until SIGINT or the context ends it: on
// a terminal it clears the screen (ANSI) before each result, elsewhere it
// prints the results one after another under a header line (with -json,
// one document each and no header).
//
// # Errors and exit statuses
//
// Errors are one line on stderr, prefixed with the tool's name in one-shot
// use: "agent unreachable: is dynhad running? socket /run/dynamics/ha.sock
// (connect: no such file or directory)", "permission denied: socket ... is
// root's; run as root or use -p /run/dynamics/ha-monitor.sock", an agent's
// answer as its return value in words and its message ("not available:
// 10.1.0.99 has no tunnel", "registration denied: ..."), a bad argument as
// the reason and the command's one-line usage.
//
// The exit statuses are ExitOK (0), ExitAgent (1, the agent answered with
// an error), ExitUsage (2), ExitUnreachable (3: no socket, refused, no
// permission, connection lost) and ExitTimeout (4). An interactive session
// exits with the status of the last command that failed, 0 if none did.
package cli
