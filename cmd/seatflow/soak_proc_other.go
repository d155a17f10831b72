//go:build !linux

package main

import "syscall"

// soakProcAttr: outside Linux there is no parent-death signal; the soak
// kills its children on every exit path it controls.
func soakProcAttr() *syscall.SysProcAttr { return nil }
