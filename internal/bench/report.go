package bench

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// Table is one phase's part of a bench report: a markdown table of figures,
// each with its target and whether it is met, after notes that say how the
// figures were measured.
type Table struct {
	Title string
	Notes []string
	Rows  [][4]string // figure, value, target, met
}

// Note adds a paragraph above the table.
func (t *Table) Note(format string, a ...any) { t.Notes = append(t.Notes, fmt.Sprintf(format, a...)) }

// Row adds a figure; target and met are empty for a figure without target.
func (t *Table) Row(figure, value, target, met string) {
	t.Rows = append(t.Rows, [4]string{figure, value, target, met})
}

// Print writes the table as markdown.
func (t *Table) Print(w io.Writer) {
	fmt.Fprintf(w, "\n## %s\n\n", t.Title)
	for _, n := range t.Notes {
		fmt.Fprintf(w, "%s\n\n", n)
	}
	fmt.Fprintf(w, "| figure | value | target | met |\n|---|---|---|---|\n")
	for _, r := range t.Rows {
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", r[0], r[1], r[2], r[3])
	}
}

// Met is the met column: "yes", or a bold "NO" that stands out.
func Met(ok bool) string {
	if ok {
		return "yes"
	}
	return "**NO**"
}

// PerSec is n per second of d; 0 for an empty d.
func PerSec(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Rate formats a rate per second.
func Rate(v float64) string { return fmt.Sprintf("%.0f/s", v) }

// Pct formats a ratio as a percentage; "-" when it is not a number.
func Pct(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", 100*v)
}

// Num formats a number with at most two decimals.
func Num(v float64) string { return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64) }

// Secs formats a duration in seconds: milliseconds shown below 10 s.
func Secs(d time.Duration) string {
	if d < 10*time.Second && d > -10*time.Second {
		return fmt.Sprintf("%.3f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// Seconds is s seconds as a Duration.
func Seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// CPUPer1000 is the CPU seconds per 1,000 operations; "-" for none.
func CPUPer1000(cpu time.Duration, n int64) string {
	if n <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.4f", cpu.Seconds()/float64(n)*1000)
}

// MB formats bytes in decimal megabytes, the unit the targets are written in.
func MB(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

// KB formats bytes in decimal kilobytes.
func KB(b float64) string { return fmt.Sprintf("%.2f KB", b/1e3) }

// GiB formats a machine's memory; "unknown" for 0.
func GiB(b int64) string {
	if b <= 0 {
		return "unknown"
	}
	return fmt.Sprintf("%.1f GiB", float64(b)/(1<<30))
}
