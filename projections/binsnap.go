package projections

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
)

// Binary snapshots. The read models that grow with every user (UserLicenses,
// LicenseHistory, ReclaimCandidates, Claims) snapshot their state nearly as
// they keep it: their string and list tables once, in table order, then per
// tenant their users with small integer fields. With a hundred thousand
// users each read model then snapshots and restores in tens of
// milliseconds, where JSON of the same state took hundreds
// (BenchmarkSnapshotRestore).
//
// Encoding: a snapshot starts with the model's tag byte and the format
// version (snapFormat); integers are uvarints (varints when signed),
// strings and lists are their length then their bytes or items, maps are
// their size then their entries in key order (see ordered), so that the
// same state always gives the same bytes. A string table is its strings after the
// implicit "" (number 0); a list table is its lists after the implicit
// empty list, each a list of numbers in the string table.
//
// Decoding never trusts the bytes: every count is bounded by the bytes
// left, every number in a table is checked against the table, and any
// error leaves the read model as it was (it decodes into fresh state and
// swaps it in only at the end).

// snapFormat is the version of the binary snapshot encoding; a model's
// own changes of shape bump its Version.
const snapFormat = 1

// Tags of the binary snapshots, one per read model, so that one model's
// snapshot is never taken for another's.
const (
	tagUserLicenses      = 'U'
	tagLicenseHistory    = 'H'
	tagReclaimCandidates = 'R'
	tagClaims            = 'C'
)

// errBadSnapshot is wrapped by every error decoding a binary snapshot.
var errBadSnapshot = errors.New("bad snapshot")

// snapWriter appends a binary snapshot.
type snapWriter struct{ b []byte }

func newSnapWriter(tag byte, sizeHint int) *snapWriter {
	w := &snapWriter{b: make([]byte, 0, sizeHint)}
	w.b = append(w.b, tag, snapFormat)
	return w
}

func (w *snapWriter) uvarint(v uint64) { w.b = binary.AppendUvarint(w.b, v) }
func (w *snapWriter) varint(v int64)   { w.b = binary.AppendVarint(w.b, v) }
func (w *snapWriter) u32(v uint32)     { w.b = binary.AppendUvarint(w.b, uint64(v)) }
func (w *snapWriter) int(v int)        { w.b = binary.AppendVarint(w.b, int64(v)) }
func (w *snapWriter) len(n int)        { w.b = binary.AppendUvarint(w.b, uint64(n)) }
func (w *snapWriter) byte(v byte)      { w.b = append(w.b, v) }

func (w *snapWriter) bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

func (w *snapWriter) str(s string) {
	w.len(len(s))
	w.b = append(w.b, s...)
}

// strTable writes t's strings after "".
func (w *snapWriter) strTable(t *strTable) {
	w.len(len(t.strs) - 1)
	for _, s := range t.strs[1:] {
		w.str(s)
	}
}

// listTable writes t's lists after the empty one, each as numbers in strs
// (where list tables keep their strings).
func (w *snapWriter) listTable(t *listTable, strs *strTable) {
	w.len(len(t.lists) - 1)
	for _, l := range t.lists[1:] {
		w.len(len(l))
		for _, s := range l {
			i, _ := strs.lookup(s) // interned by listTable.id
			w.u32(i)
		}
	}
}

// strMap writes m in key order.
func (w *snapWriter) strMap(m map[string]string) {
	w.len(len(m))
	for _, e := range ordered(m) {
		w.str(e.k)
		w.str(e.v)
	}
}

// keyHash is a map key's FNV-1a hash. Map keys are written in the order
// of their hashes, then (in the rare tie) of the keys themselves: a fixed
// order, so the same state gives the same bytes, and unlike sorting by
// the keys themselves it sorts integers: putting a hundred thousand user
// ids in order costs a few milliseconds instead of fifty, which was most
// of a snapshot's time.
func keyHash(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// keyed is a map entry with its key's hash.
type keyed[V any] struct {
	h uint64
	k string
	v V
}

func compareKeyed[V any](a, b keyed[V]) int {
	if a.h != b.h {
		return cmp.Compare(a.h, b.h)
	}
	return strings.Compare(a.k, b.k)
}

// ordered is m's entries in key order (keyOrder).
func ordered[V any](m map[string]V) []keyed[V] {
	es := make([]keyed[V], 0, len(m))
	for k, v := range m {
		es = append(es, keyed[V]{keyHash(k), k, v})
	}
	if len(es) < 2 {
		return es
	}
	// Sort plain integers, each an entry's hash with its low bits replaced
	// by the entry's index, then put runs of entries whose hashes agree
	// but for those bits (rare) in key order.
	mask := uint64(1)<<bits.Len(uint(len(es)-1)) - 1
	order := make([]uint64, len(es))
	for i, e := range es {
		order[i] = e.h&^mask | uint64(i)
	}
	slices.Sort(order)
	out := make([]keyed[V], len(es))
	for i, o := range order {
		out[i] = es[o&mask]
	}
	for i := 0; i < len(out); {
		j := i + 1
		for j < len(out) && out[j].h&^mask == out[i].h&^mask {
			j++
		}
		if j-i > 1 {
			slices.SortFunc(out[i:j], compareKeyed)
		}
		i = j
	}
	return out
}

// snapReader decodes a binary snapshot. The first error sticks: every
// later read returns a zero value, and err says what went wrong where.
type snapReader struct {
	b   []byte
	off int
	err error
}

// newSnapReader checks b's tag and format.
func newSnapReader(tag byte, b []byte) *snapReader {
	r := &snapReader{b: b}
	switch {
	case len(b) < 2:
		r.fail("too short")
	case b[0] != tag:
		r.fail(fmt.Sprintf("tag %q, want %q", b[0], tag))
	case b[1] != snapFormat:
		r.fail(fmt.Sprintf("format %d, want %d", b[1], snapFormat))
	default:
		r.off = 2
	}
	return r
}

func (r *snapReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at byte %d", errBadSnapshot, what, r.off)
		r.off = len(r.b)
	}
}

func (r *snapReader) left() int { return len(r.b) - r.off }

func (r *snapReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad or truncated number")
		return 0
	}
	r.off += n
	return v
}

func (r *snapReader) varint() int64 {
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad or truncated number")
		return 0
	}
	r.off += n
	return v
}

func (r *snapReader) int() int { return int(r.varint()) }

func (r *snapReader) byte() byte {
	if r.left() < 1 {
		r.fail("truncated")
		return 0
	}
	r.off++
	return r.b[r.off-1]
}

func (r *snapReader) bool() bool {
	switch r.byte() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail("bad bool")
	return false
}

// count reads a number of items, each of which takes at least min bytes,
// and fails if the bytes left cannot hold them: a count never asks for
// more memory than the snapshot's size warrants.
func (r *snapReader) count(min int) int {
	n := r.uvarint()
	if n > uint64(r.left()/min) {
		r.fail(fmt.Sprintf("count %d is more than the bytes left hold", n))
		return 0
	}
	return int(n)
}

// index reads a number below n (a table's size).
func (r *snapReader) index(n int) uint32 {
	v := r.uvarint()
	if v >= uint64(n) {
		r.fail(fmt.Sprintf("number %d out of a table of %d", v, n))
		return 0
	}
	return uint32(v)
}

func (r *snapReader) str() string {
	n := r.uvarint()
	if n > uint64(r.left()) {
		r.fail("string longer than the bytes left")
		return ""
	}
	s := string(r.b[r.off : r.off+int(n)])
	r.off += int(n)
	return s
}

// keyCursor is the last key read of a map.
type keyCursor struct {
	h       uint64
	k       string
	started bool
}

// key reads a map's next key, which must come after the last one in key
// order: a repeated or misplaced key is a corrupt snapshot.
func (r *snapReader) key(c *keyCursor) string {
	k := r.str()
	h := keyHash(k)
	if c.started && compareKeyed(keyed[struct{}]{h: h, k: k}, keyed[struct{}]{h: c.h, k: c.k}) <= 0 {
		r.fail(fmt.Sprintf("key %q out of order", k))
	}
	c.h, c.k, c.started = h, k, true
	return k
}

// strTable reads a string table as strTable wrote it.
func (r *snapReader) strTable() strTable {
	n := r.count(1)
	t := strTable{strs: make([]string, 1, n+1), idx: make(map[string]uint32, n+1)}
	t.idx[""] = 0
	for i := range n {
		s := r.str()
		if r.err != nil {
			break
		}
		if _, dup := t.idx[s]; dup {
			r.fail(fmt.Sprintf("string %q twice in a table", s))
			break
		}
		t.strs = append(t.strs, s)
		t.idx[s] = uint32(i + 1)
	}
	return t
}

// listTable reads a list table as listTable wrote it, its strings in strs.
func (r *snapReader) listTable(strs *strTable) listTable {
	n := r.count(2)
	t := listTable{lists: make([][]string, 1, n+1), idx: make(map[string]uint32, n)}
	for i := range n {
		m := r.count(1)
		if m == 0 && r.err == nil {
			r.fail("empty list in a table")
		}
		l := make([]string, m)
		for j := range l {
			l[j] = strs.strs[r.index(len(strs.strs))]
		}
		if r.err != nil {
			break
		}
		k := strings.Join(l, "\x00")
		if _, dup := t.idx[k]; dup {
			r.fail("list twice in a table")
			break
		}
		t.lists = append(t.lists, l)
		t.idx[k] = uint32(i + 1)
	}
	return t
}

// strMap reads a map strMap wrote.
func (r *snapReader) strMap() map[string]string {
	n := r.count(2)
	m := make(map[string]string, n)
	var c keyCursor
	for range n {
		k := r.key(&c)
		m[k] = r.str()
	}
	return m
}

// end reports the first error, or bytes left over.
func (r *snapReader) end() error {
	if r.err == nil && r.left() > 0 {
		r.fail(fmt.Sprintf("%d bytes left over", r.left()))
	}
	return r.err
}
