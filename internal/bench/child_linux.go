package bench

import "syscall"

// dieWithParent makes the kernel kill the child when this process ends,
// even by SIGKILL, so that no simulator outlives a bench.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
