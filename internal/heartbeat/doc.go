// Package heartbeat is the watcher's dead man's switch, apart from its
// wiring: which projects' last cycles succeeded (Cycles), the GET of a
// ping URL after a successful cycle (Pinger), and the one-line-per-episode
// logging both the ping and the heartbeat's publish use (Episode). The
// heartbeat event itself is built by notify.Heartbeat and published by the
// app, every heartbeat.every.
package heartbeat
