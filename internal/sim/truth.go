package sim

import (
	"strconv"
	"time"
)

// TasksPath serves Truth as JSON, without auth and without being counted,
// so that a test in another process can compare what a watcher reported
// with what the API says now. Like CallsPath it is outside /v2/.
const TasksPath = "/_sim/tasks"

// Truth is the API's state at one moment: every task of the scenario (the
// ones not yet created or already deleted included, marked not visible),
// in the list order.
type Truth struct {
	// Elapsed is the time since the scenario's start.
	Elapsed time.Duration `json:"elapsed_ns"`
	// Quiet says that nothing will change any more: Elapsed is past the
	// scenario's last step, appearance, removal and fault.
	Quiet bool        `json:"quiet"`
	Tasks []TaskTruth `json:"tasks"`
}

// TaskTruth is one task as the API shows it at that moment.
type TaskTruth struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Visible bool   `json:"visible"` // listed, and its detail answers
	Status  string `json:"status"`  // as the API spells it; "" before the task appears
	// StatusChanges counts the steps so far that set a new status after
	// the task appeared: the changes a watcher polling often enough sees.
	StatusChanges int `json:"status_changes"`
	// Percent and Lag are what the stats call answers now, as numbers
	// (nil: the answer leaves the field out).
	Percent *float64 `json:"percent,omitempty"`
	Lag     *int64   `json:"lag,omitempty"`
}

// Truth returns the API's state now.
func (s *Server) Truth() Truth {
	elapsed := s.clock().Sub(s.start)
	out := Truth{Elapsed: elapsed, Quiet: elapsed >= s.duration, Tasks: make([]TaskTruth, 0, len(s.ordered))}
	for _, t := range s.ordered {
		tt := TaskTruth{ID: t.spec.ID, Name: t.spec.Name, Visible: t.shownAt(elapsed)}
		if elapsed >= t.appears {
			tt.Status = t.stateAt(elapsed).status
			w := t.statsAt(elapsed)
			if w.FullMigrationProgress != nil {
				v, _ := strconv.ParseFloat(*w.FullMigrationProgress, 64)
				tt.Percent = &v
			}
			if w.Offset != nil {
				v, _ := strconv.ParseInt(*w.Offset, 10, 64)
				tt.Lag = &v
			}
		}
		cur := ""
		for _, st := range t.steps {
			if st.At > elapsed {
				break
			}
			if st.Status == nil || *st.Status == cur {
				continue
			}
			if cur != "" && st.At > t.appears {
				tt.StatusChanges++
			}
			cur = *st.Status
		}
		out.Tasks = append(out.Tasks, tt)
	}
	return out
}
