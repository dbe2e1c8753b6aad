// Package e2e holds the end-to-end tests: the real watcher binary (built
// once per `go test` run from ./cmd/watcher) or the whole pipeline started
// through internal/app, run against the DCS simulator, a real nats-server
// and a fake Slack that speaks Slack's wire formats, and judged by what it
// leaves outside: the stream, the snapshots, the Slack messages, the logs;
// and the documents' tests (docs_test.go), which run or check every
// snippet of the README and docs/ as a reader would.
// The package has no code of its own beyond this comment.
package e2e
