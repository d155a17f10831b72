package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestBenchSmoke runs `seatflow bench` at tiny sizes against its embedded
// server: every scenario runs, the invariant check passes, and the table
// has a row per scenario with a rate and, where it has one, a ratio to its
// baseline. It asserts nothing about timing.
func TestBenchSmoke(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), []string{"bench", "--users", "60", "--tenants", "3", "--http-signins", "12",
		"--assignments", "12", "--products", "4", "--appends", "20", "--subjects", "50", "--clients", "4",
		"--latency-for", "200ms", "--export-events", "300"}, &out, &errOut, func(string) string { return "" })
	if code != 0 {
		t.Fatalf("bench exited %d, want 0\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	text := out.String()
	if !strings.Contains(text, "\ninvariants: ok (") {
		t.Fatalf("no invariants line in:\n%s", text)
	}
	_, table, ok := strings.Cut(text, "scenario ")
	if !ok {
		t.Fatalf("no table in:\n%s", text)
	}
	for _, want := range []struct{ name, baseline string }{
		{"raw-append-1", ""}, {"raw-append-pipelined", ""}, {"raw-replay", ""},
		{scSigninNATS1, "raw-append-1"}, {scSigninNATS100, "raw-append-pipelined"}, {scSigninCapped, "raw-append-pipelined"},
		{scSigninHTTP1, "raw-append-1"}, {scSigninHTTP100, "raw-append-pipelined"},
		{scResignin, "raw-append-pipelined"}, {scAssignHTTP1, "raw-append-1"}, {scAssignHTTP1000, "raw-append-pipelined"},
		{scLatency, "raw-append-1 p99"}, {scRebuild, "raw-replay"}, {scRestart, scRebuild}, {scExport, "raw-replay"},
		{"raw-replay-long", ""}, {scRebuildLong, "raw-replay-long"}, {scRestartLong, scRebuildLong},
	} {
		row := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want.name) + `\s+(\d+) \w+\s+(\d+)\s+\S+\s+\S+\s+(.*)$`).FindStringSubmatch(table)
		if row == nil {
			t.Errorf("no row for %s in:\n%s", want.name, table)
			continue
		}
		if row[1] == "0" {
			t.Errorf("%s counted nothing: %s", want.name, row[0])
		}
		if want.baseline != "" && !regexp.MustCompile(`^`+regexp.QuoteMeta(want.baseline)+`\s+\d+\.\d\d\s`).MatchString(row[3]) {
			t.Errorf("%s: got %q, want baseline %s and a ratio", want.name, row[3], want.baseline)
		}
	}
	if !regexp.MustCompile(`read models \d+ B live heap per claimed user`).MatchString(table) {
		t.Errorf("no memory per claimed user in:\n%s", table)
	}
}

// TestBenchRejectsUnknownScenario: a typo in --scenarios is bad usage.
func TestBenchRejectsUnknownScenario(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := Main(context.Background(), []string{"bench", "--scenarios", "signin-nats-2"}, &out, &errOut,
		func(string) string { return "" }); code != 2 {
		t.Fatalf("exit %d, want 2; stderr %s", code, errOut.String())
	}
}
