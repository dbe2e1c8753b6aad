package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dcs-watcher/watcher/internal/app"
	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/silence"
)

// cmdSilence adds, lists and removes silences on the running watcher's
// NATS (add --match ... --for D, ls, rm ID).
func cmdSilence(ctx context.Context, env cmdEnv, args []string) error {
	if len(args) == 0 {
		return usageError{errors.New("want a subcommand: add, ls or rm")}
	}
	switch args[0] {
	case "-h", "--help", "help":
		return parseFlags(newFlags("silence", env), []string{"-h"})
	case "add":
		return silenceAdd(ctx, env, args[1:])
	case "ls", "list":
		return silenceList(ctx, env, args[1:])
	case "rm", "remove":
		return silenceRemove(ctx, env, args[1:])
	}
	return usageError{fmt.Errorf("unknown subcommand %q (want add, ls or rm)", args[0])}
}

// matchFlags collects the repeated --match flags.
type matchFlags []string

func (m *matchFlags) String() string     { return strings.Join(*m, " ") }
func (m *matchFlags) Set(v string) error { *m = append(*m, v); return nil }

func silenceAdd(ctx context.Context, env cmdEnv, args []string) error {
	fs := newFlags("silence", env)
	var match matchFlags
	fs.Var(&match, "match", "key=value the events must meet (name, task, project, kind, status, outcome, severity); repeat to AND")
	dur := fs.Duration("for", 0, "how long the silence lasts, from now (e.g. 2h)")
	comment := fs.String("comment", "", "why (shown by ls)")
	by := fs.String("by", env.getenv("USER"), "who adds it (shown by ls)")
	cfg, err := loadConfig(env, fs, args, config.SectionNATS)
	if err != nil {
		return err
	}
	if _, err := silence.ParseMatchers("--match", match); err != nil {
		return usageError{err}
	}
	if *dur <= 0 {
		return usageError{fmt.Errorf("--for: required, a positive duration (e.g. 2h), got %s", *dur)}
	}
	st, done, err := app.SilenceStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer done()
	s, err := st.Add(ctx, silence.Silence{Matchers: match, End: time.Now().Add(*dur), Comment: *comment, CreatedBy: *by})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "added silence %s until %s: %s\n", s.ID, s.End.Local().Format(time.DateTime), strings.Join(s.Matchers, " "))
	return nil
}

func silenceList(ctx context.Context, env cmdEnv, args []string) error {
	cfg, err := loadConfig(env, newFlags("silence", env), args, config.SectionNATS)
	if err != nil {
		return err
	}
	st, done, err := app.SilenceStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer done()
	list, err := st.List(ctx)
	if err != nil {
		return err
	}
	return silence.WriteTable(env.stdout, list, time.Now())
}

func silenceRemove(ctx context.Context, env cmdEnv, args []string) error {
	id, rest := silenceID(args)
	cfg, err := loadConfig(env, newFlags("silence", env), rest, config.SectionNATS)
	if err != nil {
		return err
	}
	if id == "" {
		return usageError{errors.New("want the id of the silence to remove (watcher silence ls shows them)")}
	}
	st, done, err := app.SilenceStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer done()
	if err := st.Remove(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(env.stdout, "removed silence %s\n", id)
	return nil
}

// silenceID takes rm's ID out of its arguments: the first, or the last
// when it is not a flag's value.
func silenceID(args []string) (id string, rest []string) {
	n := len(args)
	switch {
	case n == 0:
		return "", args
	case !strings.HasPrefix(args[0], "-"):
		return args[0], args[1:]
	case !strings.HasPrefix(args[n-1], "-") && (n < 2 || args[n-2] != "-c"):
		return args[n-1], args[:n-1]
	}
	return "", args
}
