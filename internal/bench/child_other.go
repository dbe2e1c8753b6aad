//go:build !linux

package bench

import "syscall"

// dieWithParent has no equivalent here: the child ends with the context
// that started it, which covers every exit but a crash or SIGKILL.
func dieWithParent() *syscall.SysProcAttr { return nil }
