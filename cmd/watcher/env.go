package main

import (
	"io"
)

// cmdEnv is what a command may touch of the process.
type cmdEnv struct {
	stdout, stderr io.Writer
	getenv         func(string) string
}

// usageError marks errors in flags or config: exit code 2.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }
