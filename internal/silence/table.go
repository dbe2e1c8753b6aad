package silence

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteTable writes silences as watcher silence ls shows them: one line
// each, its id, when it ends (local time, and how long from now), its
// matchers, who made it and why.
func WriteTable(w io.Writer, ss []Silence, now time.Time) error {
	if len(ss) == 0 {
		_, err := fmt.Fprintln(w, "no silences")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tENDS\tMATCH\tBY\tCOMMENT")
	for _, s := range ss {
		ends := s.End.Local().Format(time.DateTime) + " (in " + s.End.Sub(now).Round(time.Second).String() + ")"
		if now.Before(s.Start) {
			ends += ", starts " + s.Start.Local().Format(time.DateTime)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, ends, strings.Join(s.Matchers, " "), dash(s.CreatedBy), dash(s.Comment))
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return strings.ReplaceAll(s, "\t", " ")
}
