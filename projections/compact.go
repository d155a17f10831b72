package projections

import (
	"math"
	"strings"
	"time"
)

// Read models that grow with every licensed user keep their state
// compact: strings that repeat across users (products, policies, sources,
// services) once each, numbered, and times as Unix nanoseconds.

// strTable interns strings: one copy of each, numbered in the order first
// seen, 0 being the empty string. The read model's lock guards it.
type strTable struct {
	strs []string
	idx  map[string]uint32
}

func newStrTable() strTable { return strTable{strs: []string{""}, idx: map[string]uint32{"": 0}} }

// id interns s and returns its number.
func (t *strTable) id(s string) uint32 {
	if i, ok := t.idx[s]; ok {
		return i
	}
	s = strings.Clone(s)
	i := uint32(len(t.strs))
	t.strs = append(t.strs, s)
	t.idx[s] = i
	return i
}

// lookup returns the number of s, if it is interned.
func (t *strTable) lookup(s string) (uint32, bool) {
	i, ok := t.idx[s]
	return i, ok
}

// str is the string numbered i.
func (t *strTable) str(i uint32) string { return t.strs[i] }

// intern returns the interned copy of s.
func (t *strTable) intern(s string) string { return t.strs[t.id(s)] }

// listTable interns lists of strings (such as disabled services), each
// list once, its strings in a strTable, numbered in the order first seen,
// 0 being the empty list (nil).
type listTable struct {
	lists [][]string
	idx   map[string]uint32 // the list joined with "\x00"
}

func newListTable() listTable { return listTable{lists: [][]string{nil}, idx: map[string]uint32{}} }

// id interns xs, its strings in strs, and returns its number.
func (t *listTable) id(xs []string, strs *strTable) uint32 {
	if len(xs) == 0 {
		return 0
	}
	k := strings.Join(xs, "\x00")
	if i, ok := t.idx[k]; ok {
		return i
	}
	v := make([]string, len(xs))
	for i, x := range xs {
		v[i] = strs.intern(x)
	}
	i := uint32(len(t.lists))
	t.lists = append(t.lists, v)
	t.idx[k] = i
	return i
}

// list is the list numbered i; callers must not modify it.
func (t *listTable) list(i uint32) []string { return t.lists[i] }

// nanos is a time as Unix nanoseconds (8 bytes instead of time.Time's
// 24), with the zero time kept apart: nanosOf(t).time() is t.UTC() for
// the zero time and for every time from 1678 to 2262, which covers every
// time on the stream (the service's clock, sign-ins since 2000).
type nanos int64

const zeroNanos nanos = math.MinInt64

func nanosOf(t time.Time) nanos {
	if t.IsZero() {
		return zeroNanos
	}
	return nanos(t.UnixNano())
}

func (n nanos) time() time.Time {
	if n == zeroNanos {
		return time.Time{}
	}
	return time.Unix(0, int64(n)).UTC()
}
