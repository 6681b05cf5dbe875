package pglocal

import "syscall"

// setParentDeathSignal asks Linux to send postgres SIGINT (fast shutdown)
// when this process dies, so a test binary killed by a timeout panic or
// kill -9 leaves no server behind. Go applies it after switching to the
// server user's credentials, which would otherwise clear it.
func setParentDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGINT }
