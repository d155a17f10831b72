package bench

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Result is one measured path: a rate, optional latency percentiles, and
// its ratio to the baseline it is compared with.
type Result struct {
	// Name is the scenario (e.g. "signin-nats-1").
	Name string
	// What says what was measured.
	What string
	// Count is how many operations (claims, appends, events) were timed.
	Count int
	// Elapsed is how long they took.
	Elapsed time.Duration
	// Unit names one operation ("claims", "appends", "events").
	Unit string
	// P50 and P99 are latency percentiles, zero when not measured.
	P50, P99 time.Duration
	// Baseline names the result this one is compared with; Ratio is this
	// rate (or, for latency scenarios, the P99) over the baseline's.
	Baseline string
	Ratio    float64
	// Target is the ratio the issue asks for; Higher says whether the
	// ratio must be at least (true) or at most (false) the target.
	Target float64
	Higher bool
	// Note is extra text (e.g. bytes per claimed user).
	Note string
}

// Rate is operations per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Count) / r.Elapsed.Seconds()
}

// Met reports whether the result reaches its target (true when it has none).
func (r Result) Met() bool {
	switch {
	case r.Target == 0:
		return true
	case r.Higher:
		return r.Ratio >= r.Target
	default:
		return r.Ratio <= r.Target
	}
}

// Median returns the round whose rate is the median of rounds (the lower
// of the two middle ones for an even count), with the median of the
// rounds' P50 and P99, and a note of how many rounds ran and the range of
// their rates. On a shared machine one short round can be a third faster
// or slower than the next; the median of several is what a ratio should
// be taken against. It returns the zero Result for no rounds.
func Median(rounds []Result) Result {
	if len(rounds) == 0 {
		return Result{}
	}
	rs := slices.Clone(rounds)
	slices.SortFunc(rs, func(a, b Result) int { return cmp.Compare(a.Rate(), b.Rate()) })
	m := rs[(len(rs)-1)/2]
	if len(rs) == 1 {
		return m
	}
	p50s, p99s := make([]time.Duration, len(rs)), make([]time.Duration, len(rs))
	for i, r := range rs {
		p50s[i], p99s[i] = r.P50, r.P99
	}
	slices.Sort(p50s)
	slices.Sort(p99s)
	m.P50, m.P99 = p50s[(len(rs)-1)/2], p99s[(len(rs)-1)/2]
	note := fmt.Sprintf("median of %d rounds (%.0f-%.0f/s)", len(rs), rs[0].Rate(), rs[len(rs)-1].Rate())
	if m.Note != "" {
		note += "; " + m.Note
	}
	m.Note = note
	return m
}

// Percentile returns the p-th percentile (0..100) of ds, nearest rank.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// WriteTable prints results as an aligned table: scenario, count, rate,
// p50/p99, baseline, ratio and target.
func WriteTable(w io.Writer, rs []Result) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tcount\trate/s\tp50\tp99\tbaseline\tratio\ttarget\tnote")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d %s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Count, r.Unit, r.Rate(),
			dur(r.P50), dur(r.P99), dash(r.Baseline), ratio(r), target(r), r.Note)
	}
	return tw.Flush()
}

func dur(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.Round(10 * time.Microsecond).String()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func ratio(r Result) string {
	if r.Baseline == "" {
		return "-"
	}
	return fmt.Sprintf("%.2f", r.Ratio)
}

func target(r Result) string {
	if r.Target == 0 {
		return "-"
	}
	op := ">="
	if !r.Higher {
		op = "<="
	}
	mark := "met"
	if !r.Met() {
		mark = "MISSED"
	}
	return strings.Join([]string{op, fmt.Sprintf("%.2f", r.Target), mark}, " ")
}
