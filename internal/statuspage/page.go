package statuspage

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
	"github.com/dcs-watcher/watcher/internal/notify"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// csp allows the page its own files and nothing else: no inline script,
// no inline style, no frames.
const csp = "default-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// Page serves the status page from the Model it was last given. It
// outlives models: across a reload the app starts a new model and hands
// it over with Use; meanwhile (and before the first) the page answers 503.
type Page struct {
	model atomic.Pointer[Model]
	tmpl  *template.Template
	mux   *http.ServeMux
	// Ping is how often /events writes a comment to keep proxies from
	// closing an idle stream; default 25 s.
	ping time.Duration
}

// NewPage returns a Page with no model yet.
func NewPage() *Page {
	p := &Page{ping: 25 * time.Second, mux: http.NewServeMux()}
	p.tmpl = template.Must(template.New("").Funcs(template.FuncMap{
		"taskURL":  taskURL,
		"ago":      ago,
		"since":    since,
		"svg":      timelineSVG,
		"percent":  percent,
		"outcomes": dcs.Outcomes,
	}).ParseFS(templateFS, "templates/*.html"))
	static, _ := fs.Sub(staticFS, "static")
	p.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	p.mux.HandleFunc("GET /{$}", p.withModel(p.list))
	p.mux.HandleFunc("GET /status", p.withModel(p.list))
	p.mux.HandleFunc("GET /tasks/{project}/{id}", p.withModel(p.task))
	p.mux.HandleFunc("GET /api/tasks", p.withModel(p.apiList))
	p.mux.HandleFunc("GET /api/tasks/{project}/{id}", p.withModel(p.apiTask))
	p.mux.HandleFunc("GET /events", p.withModel(p.events))
	return p
}

// Use makes m the model the page serves (nil: none, 503).
func (p *Page) Use(m *Model) { p.model.Store(m) }

// Release stops serving m, unless another model has taken over since.
func (p *Page) Release(m *Model) { p.model.CompareAndSwap(m, nil) }

// ServeHTTP serves the page's paths with its security headers.
func (p *Page) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	p.mux.ServeHTTP(w, r)
}

func (p *Page) withModel(f func(http.ResponseWriter, *http.Request, *Model)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		m := p.model.Load()
		if m == nil {
			http.Error(w, "status page: the watcher is starting", http.StatusServiceUnavailable)
			return
		}
		f(w, r, m)
	}
}

// listData is what the list template shows.
type listData struct {
	Filter   Filter
	Projects []string
	Tasks    []TaskView // the first Limit of Matched
	Matched  int
	Total    int
	Limit    int
	Now      time.Time
}

// The list shows defaultRows rows unless ?limit= asks for more (up to
// maxRows): sorted failures and stalls first, the rows past it are the
// least urgent, and a page that patches itself on every change must stay
// small. /api/tasks has every row.
const (
	defaultRows = 500
	maxRows     = 100000
)

func (p *Page) list(w http.ResponseWriter, r *http.Request, m *Model) {
	f := ParseFilter(r.URL.Query())
	limit := defaultRows
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 {
		limit = min(n, maxRows)
	}
	tasks := m.Tasks(f)
	d := listData{Filter: f, Projects: m.Projects(), Tasks: tasks[:min(limit, len(tasks))], Matched: len(tasks),
		Total: m.Len(), Limit: limit, Now: m.opts.Now()}
	p.render(w, r, "list", d)
}

func (p *Page) task(w http.ResponseWriter, r *http.Request, m *Model) {
	v, ok := m.Task(r.PathValue("project"), r.PathValue("id"))
	if !ok {
		http.Error(w, fmt.Sprintf("status page: no task %q in project %q", r.PathValue("id"), r.PathValue("project")), http.StatusNotFound)
		return
	}
	p.render(w, r, "task", v)
}

// render writes the named page, or only its live part (the "<name>-live"
// template) when the page's script asks for it to patch itself.
func (p *Page) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	w.Header().Set("Vary", "X-Live")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if r.Header.Get("X-Live") == "1" {
		name += "-live"
	}
	if err := p.tmpl.ExecuteTemplate(w, name, data); err != nil {
		http.Error(w, "status page: render "+name+": "+err.Error(), http.StatusInternalServerError)
	}
}

func (p *Page) apiList(w http.ResponseWriter, r *http.Request, m *Model) {
	writeJSON(w, struct {
		Tasks []TaskView `json:"tasks"`
	}{m.Tasks(ParseFilter(r.URL.Query()))})
}

func (p *Page) apiTask(w http.ResponseWriter, r *http.Request, m *Model) {
	v, ok := m.Task(r.PathValue("project"), r.PathValue("id"))
	if !ok {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "no such task"})
		return
	}
	writeJSON(w, v)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// events streams the model's changes as server-sent events ("change",
// data {"project","task"}) until the client goes or the model is
// replaced; the browser's EventSource then connects again.
func (p *Page) events(w http.ResponseWriter, r *http.Request, m *Model) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "status page: streaming not supported", http.StatusInternalServerError)
		return
	}
	changes, stop := m.Subscribe()
	defer stop()
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	fmt.Fprint(w, "retry: 2000\n\n")
	fl.Flush()
	ping := time.NewTicker(p.ping)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-ping.C:
			if p.model.Load() != m {
				return
			}
			fmt.Fprint(w, ": ping\n\n")
		case c := <-changes:
			b, _ := json.Marshal(c)
			fmt.Fprintf(w, "event: change\ndata: %s\n\n", b)
		}
		fl.Flush()
	}
}

func taskURL(project, id string) string {
	return "/tasks/" + url.PathEscape(project) + "/" + url.PathEscape(id)
}

// ago says how long before now t was, to the second.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return since(now.Sub(t))
}

// since prints a duration to the second, the largest two units.
func since(d time.Duration) string {
	if d <= 0 {
		return ""
	}
	d = d.Round(time.Second)
	switch {
	case d >= 24*time.Hour:
		return fmt.Sprintf("%dd %dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dm", d/time.Hour, d%time.Hour/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm %ds", d/time.Minute, d%time.Minute/time.Second)
	}
	return d.String()
}

func percent(p *notify.Progress) string {
	if p == nil || p.Percent == nil {
		return ""
	}
	return fmt.Sprintf("%.0f%%", *p.Percent)
}
