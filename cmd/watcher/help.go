package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/dcs-watcher/watcher/internal/config"
)

// errHelp is what a command returns after printing its help for -h or
// --help: asked-for help is a success, exit 0.
var errHelp = errors.New("help requested")

// commandDoc is what `watcher COMMAND -h` says besides the flags.
type commandDoc struct {
	what  string
	env   []string // environment variables the command reads
	exits string   // its exit codes, as the README's table of commands gives them
}

// configEnv are the variables every command that loads the whole config
// reads (config.envOverrides), plus the SDK's endpoint override.
var configEnv = []string{
	config.EnvAK + ", " + config.EnvSK + ", " + config.EnvSecurityToken + ": dcs.ak, dcs.sk, dcs.security_token",
	config.EnvProjectID + ": dcs.project_id",
	config.EnvDCSAuthToken + ": dcs.auth_token (an IAM token instead of AK/SK)",
	config.EnvNATSURL + ", " + config.EnvNATSToken + ": nats.url, nats.token",
	config.EnvSlackWebhook + ": slack.webhook_url",
	config.EnvSlackBotToken + ": slack.bot_token",
	"HUAWEICLOUD_SDK_REGION_DCS_<REGION>: the DCS endpoint of a region (instead of https://dcs.<region>.myhuaweicloud.com)",
}

var commandDocs = map[string]commandDoc{
	"run": {what: "Poll the DCS API on poll.schedule until SIGINT/SIGTERM; Slack delivery runs alongside. " +
		"SIGHUP reloads the config file: a bad one is refused and the running one kept; a good one restarts the watcher " +
		"(DCS client, NATS, poller, Slack) with it, in the same process. http.* is not reloaded.", env: configEnv,
		exits: "0 stopped, 1 failed, 2 bad config"},
	"once": {what: "Run one cycle against the stored state and exit; each event as a JSON line on stdout, a summary on stderr. " +
		"It refuses a data_dir that a running watcher holds (its embedded NATS and store are that watcher's): use watcher tail to see that one's events.",
		env: configEnv, exits: "0 ok, 1 the API could not be seen, an event not published or the data directory held by a running watcher, 2 bad config"},
	"validate": {what: "Load and check a config file, print a one-line summary.", env: configEnv, exits: "0 ok, 2 bad config"},
	"simulate": {what: "Serve the DCS API simulator on a scenario file or a generated fleet.",
		env:   []string{config.EnvAK + ", " + config.EnvSK + ": when set, every request's signature is checked against them"},
		exits: "0 stopped, 1 cannot listen, 2 bad flags or scenario"},
	"bench": {what: "Benchmark the pipeline against the simulator; a markdown report on stdout.", exits: "0 ok, 1 a phase failed, 2 bad flags"},
	"demo": {what: "Run the simulator, the embedded NATS, the watcher and a console Slack together on a built-in scenario; ends by itself.",
		exits: "0 ok, 1 the demo did not finish, 2 bad flags or scenario"},
	"tail": {what: "Print the events of a running watcher as they are published. Uses only data_dir and nats.* of the config.",
		env:   []string{config.EnvNATSURL + ", " + config.EnvNATSToken + ": nats.url, nats.token"},
		exits: "0 stopped or --count events printed, 1 cannot connect, 2 bad flags or config"},
	"notify-test": {what: "Post a sample message to the default Slack destination, or a route's (webhook or bot-mode channel). Uses only slack.* of the config.",
		env:   []string{config.EnvSlackWebhook + ": slack.webhook_url", config.EnvSlackBotToken + ": slack.bot_token"},
		exits: "0 accepted, 1 refused, 2 bad flags or config"},
	"silence": {what: "watcher silence add --match KEY=VALUE... --for D [--comment TEXT] [--by NAME]: the events that meet every --match " +
		"(keys name, task, project, kind, status, outcome, severity) are still published, marked data.silenced, and not posted to Slack, for D from now; " +
		"when the silence ends, each task it hid that is still failing is posted once. watcher silence ls lists the silences not yet ended; " +
		"watcher silence rm ID ends one at once. Connects as the watcher (the read-only user may not); uses only data_dir, nats.* and slack.silences_bucket of the config.",
		env:   []string{config.EnvNATSURL + ", " + config.EnvNATSToken + ": nats.url, nats.token", "USER: the default of --by"},
		exits: "0 ok, 1 cannot connect or no such silence, 2 bad flags or config"},
	"version": {what: "Print the watcher's version, the commit and time it was built from, and the Go version.", exits: "0"},
	"health": {what: "GET /healthz on http.listen (or --addr) and exit 0 when it answers 200, else 1: the container's health check, for an image without a shell. " +
		"Over https when http.tls_cert_file is set, trusting that certificate whatever names it holds (the check dials the loopback), or one the system's roots verify; " +
		"no password, since /healthz and /readyz are outside http.basic_auth_users_file. Uses only http.* of the config.",
		exits: "0 healthy, 1 not healthy or not answering, 2 bad config, or no http.listen and no --addr"},
}

// printHelp writes a command's help: what it does, its flags and the
// environment it reads.
func printHelp(w io.Writer, fs *flag.FlagSet) {
	name := strings.TrimPrefix(fs.Name(), "watcher ")
	doc := commandDocs[name]
	fmt.Fprintf(w, "Usage: watcher %s [flags]\n\n%s\n\nFlags:\n", name, doc.what)
	out := fs.Output()
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(out)
	if len(doc.env) > 0 {
		fmt.Fprintln(w, "\nEnvironment (wins over the config file):")
		for _, e := range doc.env {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	fmt.Fprintf(w, "\nExit codes: %s (-h: 0).\n", doc.exits)
}
