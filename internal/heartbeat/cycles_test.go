package heartbeat

import (
	"testing"
	"time"
)

func TestCyclesAllOK(t *testing.T) {
	var c Cycles
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	if c.AllOK([]string{"a"}) || c.AllOK(nil) || c.LastOK("a") != nil {
		t.Fatal("no cycle yet: nothing is OK")
	}
	c.Record("a", true, t0)
	if !c.AllOK([]string{"a"}) || c.AllOK([]string{"a", "b"}) {
		t.Fatal("a succeeded, b never ran: only a is OK")
	}
	c.Record("b", true, t0)
	c.Record("a", false, t0.Add(time.Minute))
	if c.AllOK([]string{"a", "b"}) {
		t.Fatal("a's last cycle failed: not all OK")
	}
	if got := c.LastOK("a"); got == nil || !got.Equal(t0) {
		t.Fatalf("LastOK(a) = %v, want the last success %v", got, t0)
	}
	c.Record("a", true, t0.Add(2*time.Minute))
	if !c.AllOK([]string{"a", "b"}) || !c.LastOK("a").Equal(t0.Add(2*time.Minute)) {
		t.Fatal("a recovered: all OK, last success moved")
	}
}
