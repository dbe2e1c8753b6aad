package state

import (
	"encoding/binary"
	"strings"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// packed is the cache's form of a task snapshot. A dcs.Task is about 600
// bytes of string headers, most of them empty in a list row, and each of its
// strings is an allocation of its own: at 100k tasks the snapshots alone were
// 100 MB live. packed keeps the string fields in one string, each as its
// length (a uvarint) and its bytes, about 60 bytes and one allocation beside
// the text. Get unpacks a fresh dcs.Task whose strings share that text, so a
// caller may keep or change what it gets without touching the cache.
type packed struct {
	text     string
	features []string
	backup   *dcs.BackupFiles
	flags    uint8
}

const (
	sourceMultiDB = 1 << iota
	sourcePasswordSet
	targetMultiDB
	targetPasswordSet
)

// pack copies t into its cache form; nil stays nil.
func pack(t *dcs.Task) *packed {
	if t == nil {
		return nil
	}
	fs := dcs.StringFields(t)
	var l [binary.MaxVarintLen64]byte
	n := 0
	for _, f := range fs {
		n += binary.PutUvarint(l[:], uint64(len(*f))) + len(*f)
	}
	var b strings.Builder
	b.Grow(n) // exactly: the text is kept as long as the snapshot
	for _, f := range fs {
		b.Write(l[:binary.PutUvarint(l[:], uint64(len(*f)))])
		b.WriteString(*f)
	}
	p := &packed{text: b.String(), features: t.SupportedFeatures, backup: t.BackupFiles}
	p.set(sourceMultiDB, t.Source.ProxyMultiDB)
	p.set(sourcePasswordSet, t.Source.PasswordSet)
	p.set(targetMultiDB, t.Target.ProxyMultiDB)
	p.set(targetPasswordSet, t.Target.PasswordSet)
	return p
}

func (p *packed) set(flag uint8, on bool) {
	if on {
		p.flags |= flag
	}
}

// unpack returns a new dcs.Task equal to the one packed; nil stays nil.
func (p *packed) unpack() *dcs.Task {
	if p == nil {
		return nil
	}
	t := new(dcs.Task)
	p.unpackInto(t)
	return t
}

// unpackInto makes *t equal to the task packed.
func (p *packed) unpackInto(t *dcs.Task) {
	*t = dcs.Task{SupportedFeatures: p.features, BackupFiles: p.backup}
	s := p.text
	for _, f := range dcs.StringFields(t) {
		n, w := uvarint(s)
		*f, s = s[w:w+int(n)], s[w+int(n):]
	}
	t.Source.ProxyMultiDB = p.flags&sourceMultiDB != 0
	t.Source.PasswordSet = p.flags&sourcePasswordSet != 0
	t.Target.ProxyMultiDB = p.flags&targetMultiDB != 0
	t.Target.PasswordSet = p.flags&targetPasswordSet != 0
}

// uvarint reads a length pack wrote at the start of s: its value and width.
func uvarint(s string) (uint64, int) {
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, i + 1
		}
	}
	panic("state: truncated packed snapshot")
}

// cached is a cache entry: the Entry without its task, and the task packed.
type cached struct {
	Entry // Task always nil
	task  *packed
}

func store(e Entry) cached {
	c := cached{Entry: e, task: pack(e.Task)}
	c.Task = nil
	return c
}

// entry is the Entry cached, with a task of its own.
func (c cached) entry() Entry {
	e := c.Entry
	e.Task = c.task.unpack()
	return e
}
