//go:build !linux

package pglocal

import "syscall"

// setParentDeathSignal does nothing where there is no parent-death signal:
// a server orphaned by a killed parent is stopped by the next Start on its
// directory.
func setParentDeathSignal(*syscall.SysProcAttr) {}
