package poller

import "sync"

// seenShards spreads the set over locks: 8 workers on a few CPUs rarely
// meet on one.
const seenShards = 16

// seenSet is a set of task ids safe for concurrent use, read by every
// worker of every cycle and written once per task: maps under a
// read-write lock each, about 30 bytes a task where a sync.Map takes
// about 130 (13 MB at 100k tasks).
type seenSet struct {
	shards [seenShards]struct {
		mu sync.RWMutex
		m  map[string]struct{}
	}
}

func (s *seenSet) has(id string) bool {
	sh := &s.shards[shardOf(id)]
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	_, ok := sh.m[id]
	return ok
}

func (s *seenSet) add(id string) {
	if s.has(id) {
		return
	}
	sh := &s.shards[shardOf(id)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m == nil {
		sh.m = map[string]struct{}{}
	}
	sh.m[id] = struct{}{}
}

// shardOf is FNV-1a of id, inline: no allocation on the per-answer path.
func shardOf(id string) int {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h ^= uint32(id[i])
		h *= 16777619
	}
	return int(h % seenShards)
}
