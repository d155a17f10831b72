//go:build linux

package main

import "syscall"

// soakProcAttr makes a soak's child die with the soak: the kernel sends it
// SIGKILL when the process that started it exits, however that happens.
func soakProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
