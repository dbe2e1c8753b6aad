// Command watcher watches Huawei Cloud DCS data-migration tasks and tells
// people (Slack) and programs (NATS JetStream) when they change.
//
//	watcher run -c watcher.yaml        poll on the schedule until stopped
//	watcher once -c watcher.yaml       one cycle, events as JSON lines on stdout
//	watcher validate -c watcher.yaml   check a config and exit
//	watcher simulate --listen ADDR --scenario FILE | --fleet N ...
//	watcher bench                      benchmarks against the simulator, a report on stdout
//	watcher demo                       everything on embedded defaults, ~25 s
//	watcher tail -c watcher.yaml       print events as they are published
//	watcher notify-test -c watcher.yaml  post a sample Slack message
//	watcher silence add|ls|rm -c watcher.yaml  keep matching events from Slack for a while
//	watcher health -c watcher.yaml     ask a running watcher's /healthz
//	watcher version                    version, commit, Go version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the job ran and something failed
	exitUsage   = 2 // bad flags or a bad config
)

const usage = `watcher: watch Huawei Cloud DCS data-migration tasks, publish changes to NATS and Slack

Usage:
  watcher run      -c FILE    poll on the configured schedule until interrupted
  watcher once     -c FILE    run one cycle against the stored state; events as JSON lines on stdout
  watcher validate -c FILE    check a configuration file and exit
  watcher simulate --listen ADDR --scenario FILE
                              serve the DCS API simulator on a scenario
  watcher simulate --listen ADDR --fleet N [--change-rate R/s ...]
                              ... or on a generated fleet of N tasks
  watcher bench [--quick] [--only PHASES]
                              benchmark the pipeline against the simulator; report on stdout
  watcher demo                simulator + embedded NATS + watcher + console Slack, ends by itself
  watcher tail     -c FILE    print the events of a running watcher as they are published
  watcher notify-test -c FILE [--route NAME]  post a sample message to the default Slack destination, or a route's
  watcher silence add -c FILE --match KEY=VALUE... --for D [--comment TEXT]
                              keep the matching events from Slack (still on NATS) for D
  watcher silence ls  -c FILE list the silences; watcher silence rm ID -c FILE ends one
  watcher health   -c FILE    exit 0 when the watcher's /healthz (http.listen) answers
  watcher version             version, commit and Go version of this binary

Exit codes: 0 ok, 1 the command ran and failed, 2 bad flags or a bad config.
Run 'watcher COMMAND -h' for the flags and the exit codes of a command.
`

func main() { os.Exit(runCLI(os.Args[1:], os.Stdout, os.Stderr, os.Getenv)) }

// runCLI dispatches a command line; it is main without the process, for tests.
func runCLI(args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := cmdEnv{stdout: stdout, stderr: stderr, getenv: getenv}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(ctx, env, args[1:])
	case "once":
		err = cmdOnce(ctx, env, args[1:])
	case "validate":
		err = cmdValidate(env, args[1:])
	case "simulate":
		err = cmdSimulate(ctx, env, args[1:])
	case "demo":
		err = cmdDemo(ctx, env, args[1:])
	case "bench":
		err = cmdBench(ctx, env, args[1:])
	case "tail":
		err = cmdTail(ctx, env, args[1:])
	case "notify-test":
		err = cmdNotifyTest(ctx, env, args[1:])
	case "silence":
		err = cmdSilence(ctx, env, args[1:])
	case "version":
		err = cmdVersion(env, args[1:])
	case "health":
		err = cmdHealth(ctx, env, args[1:])
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "watcher: unknown command %q\n\n%s", args[0], usage)
		return exitUsage
	}
	if err == nil || errors.Is(err, errHelp) {
		return exitOK
	}
	fmt.Fprintf(stderr, "watcher %s: %v\n", args[0], err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}
