package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ChildEnv is set in the environment of every child a bench starts. The
// real binary ignores it; a test binary, whose os.Executable runs the tests
// rather than the command, checks it in TestMain and runs the command
// line instead.
const ChildEnv = "WATCHER_BENCH_CHILD"

// ChildOptions say what to run.
type ChildOptions struct {
	Path string   // executable; empty: os.Executable()
	Args []string // command line after the executable
	// Env is added to this process's environment, minus the variables
	// that hold credentials: a bench never passes real ones on.
	Env    []string
	Stderr io.Writer // the child's stderr; nil: discarded
}

// Child is a running child process whose stdout is read line by line.
type Child struct {
	cmd   *exec.Cmd
	lines chan string
	done  chan struct{}
	err   error // of Wait, valid once done is closed
}

// stopGrace is how long a child has to end after SIGTERM before it is killed.
const stopGrace = 5 * time.Second

// StartChild starts a child that ends with ctx (SIGTERM, then SIGKILL after
// stopGrace) and, on Linux, with this process, however it ends.
func StartChild(ctx context.Context, o ChildOptions) (*Child, error) {
	path := o.Path
	if path == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("child: own executable: %w", err)
		}
		path = exe
	}
	cmd := exec.CommandContext(ctx, path, o.Args...)
	cmd.Env = append(childEnviron(), ChildEnv+"=1")
	cmd.Env = append(cmd.Env, o.Env...)
	cmd.Stderr = o.Stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = stopGrace
	cmd.SysProcAttr = dieWithParent()
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("child %s: stdout: %w", o.Args, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("child %s: start: %w", o.Args, err)
	}
	c := &Child{cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{})}
	var reading sync.WaitGroup
	reading.Go(func() { c.read(out) })
	go func() {
		reading.Wait() // Wait closes stdout: read it all first
		c.err = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// childEnviron is this process's environment without credentials.
func childEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "HUAWEICLOUD_SDK_") || strings.HasPrefix(name, "WATCHER_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (c *Child) read(out io.Reader) {
	defer close(c.lines)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		c.lines <- sc.Text()
	}
	_, _ = io.Copy(io.Discard, out) // a line too long: keep the child unblocked
}

// ErrChildExited means the child ended before printing what was awaited.
var ErrChildExited = errors.New("child exited")

// ReadLine returns the child's next line of stdout.
func (c *Child) ReadLine(ctx context.Context) (string, error) {
	select {
	case l, ok := <-c.lines:
		if !ok {
			<-c.done
			return "", fmt.Errorf("child %s: %w (%v)", c.cmd.Args[1:], ErrChildExited, c.err)
		}
		return l, nil
	case <-ctx.Done():
		return "", fmt.Errorf("child %s: waiting for output: %w", c.cmd.Args[1:], ctx.Err())
	}
}

// Wait waits for the child to end by itself and returns its exit error.
func (c *Child) Wait(ctx context.Context) error {
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return fmt.Errorf("child %s: waiting for exit: %w", c.cmd.Args[1:], ctx.Err())
	}
}

// Stop kills the child and waits for it. It is for a simulator, which has
// nothing to save (a graceful shutdown would wait for idle keep-alive
// connections), and for a child that failed; a child that ends by itself
// is waited for with Wait.
func (c *Child) Stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Kill()
	<-c.done
}
