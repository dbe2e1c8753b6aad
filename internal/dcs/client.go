package dcs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dcs-watcher/watcher/internal/secret"
	"golang.org/x/time/rate"
)

const (
	opShow = "show"
	opList = "list"

	// defaultMaxBodyBytes caps a response body: a detail object is about
	// 2 KiB, a full list page of 1000 rows well under 2 MiB.
	defaultMaxBodyBytes = 4 << 20
	// MaxListLimit is the largest page the list call serves.
	MaxListLimit = 1000

	defaultUserAgent   = "dcs-watcher"
	defaultHTTPTimeout = 30 * time.Second
	maxIDLength        = 128
)

// EndpointForRegion returns the DCS endpoint of a region,
// https://dcs.<region>.myhuaweicloud.com, unless the environment variable the
// SDK honours, HUAWEICLOUD_SDK_REGION_DCS_<REGION> (upper case, "-" as "_"),
// names another; of a comma-separated list there, the first is used.
func EndpointForRegion(region string, getenv func(string) string) string {
	region = strings.TrimSpace(region)
	name := "HUAWEICLOUD_SDK_REGION_DCS_" + strings.ToUpper(strings.ReplaceAll(region, "-", "_"))
	if v := getenv(name); strings.TrimSpace(v) != "" {
		first, _, _ := strings.Cut(v, ",")
		return strings.TrimSpace(first)
	}
	return "https://dcs." + region + ".myhuaweicloud.com"
}

// Options configure a Client. Endpoint and ProjectID are required.
type Options struct {
	Endpoint    string // e.g. https://dcs.cn-north-4.myhuaweicloud.com
	ProjectID   string
	Credentials Credentials // empty: requests go out unauthenticated
	// Source, when set, replaces Credentials: it is asked before every
	// call, so temporary credentials are replaced before they expire.
	Source CredentialSource
	// HTTPClient is the transport; nil means a client with a 30 s timeout.
	// The Client uses a copy that never follows redirects, so that no
	// credential header travels to another host.
	HTTPClient   *http.Client
	MaxBodyBytes int64            // default defaultMaxBodyBytes
	UserAgent    string           // default "dcs-watcher"
	Now          func() time.Time // default time.Now; dates the signature
	// Limiter paces every HTTP call, list pages included; nil: no
	// client-side limit. The API throttles at about 200 calls/s per API and
	// account, shared with everything else the account does.
	Limiter *rate.Limiter
	// AccountLimiter, when set, paces the calls of every client of one
	// account together (many projects in one process): a call waits on
	// Limiter, its own share, first, so that a project held back by its
	// cap does not hold an account token meanwhile.
	AccountLimiter *rate.Limiter
	// ListConcurrency is how many list pages List fetches at once once the
	// first page has told how many there are; default 1 (one after another).
	ListConcurrency int
	// Observe, when set, hears of every Show, ListPage, Stats and Logs
	// when it ends: the call ("show", "list", "stats", "logs"), its outcome ("ok", a Class, or
	// "canceled" when the caller gave up) and how long it took, rate-limit
	// wait included (metrics).
	Observe func(call, outcome string, took time.Duration)
	// Announced, when set, hears of the task count a List's first page
	// announces, before the other pages are read (memory_limit auto sizes
	// the soft limit to the fleet before the list's rows are decoded).
	Announced func(count int)
}

// Info describes the answer to a successful call, for logs.
type Info struct {
	RequestID  string // X-Request-Id
	HTTPStatus int
	// Nulls lists the fields of a detail answer that were an explicit JSON
	// null ("source_instance.task_status"): the API gave no value, which
	// KeepNulls reads as "unchanged", not as "now empty".
	Nulls []string
}

// Client calls the DCS migration-task API. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	projectID string
	cred      Credentials
	source    CredentialSource
	hc        *http.Client
	maxBody   int64
	userAgent string
	now       func() time.Time
	limiter   *rate.Limiter
	account   *rate.Limiter
	listConc  int
	observe   func(call, outcome string, took time.Duration)
	announced func(count int)
}

// New checks o and returns a Client.
func New(o Options) (*Client, error) {
	base, err := parseEndpoint(o.Endpoint)
	if err != nil {
		return nil, err
	}
	if !validID(o.ProjectID) {
		return nil, fmt.Errorf("dcs client: project id %q: want 1 to %d letters, digits, '-', '_', '.' or '~'", o.ProjectID, maxIDLength)
	}
	if err := o.Credentials.validate(); err != nil {
		return nil, fmt.Errorf("dcs client: %w", err)
	}
	if o.MaxBodyBytes < 0 {
		return nil, fmt.Errorf("dcs client: max body bytes %d is negative", o.MaxBodyBytes)
	}
	c := &Client{
		base:      base,
		source:    o.Source,
		projectID: o.ProjectID,
		cred:      o.Credentials,
		maxBody:   o.MaxBodyBytes,
		userAgent: o.UserAgent,
		now:       o.Now,
		listConc:  max(o.ListConcurrency, 1),
		limiter:   o.Limiter,
		observe:   o.Observe,
		announced: o.Announced,
		account:   o.AccountLimiter,
	}
	if c.maxBody == 0 {
		c.maxBody = defaultMaxBodyBytes
	}
	if c.userAgent == "" {
		c.userAgent = defaultUserAgent
	}
	if c.now == nil {
		c.now = time.Now
	}
	hc := http.Client{Timeout: defaultHTTPTimeout, Transport: Transport(8)}
	if o.HTTPClient != nil {
		hc = *o.HTTPClient
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.hc = &hc
	return c, nil
}

func parseEndpoint(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, fmt.Errorf("dcs client: endpoint %q is not a URL", raw)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("dcs client: endpoint %q: scheme must be http or https", raw)
	case u.Host == "":
		return nil, fmt.Errorf("dcs client: endpoint %q has no host", raw)
	case u.User != nil:
		return nil, errors.New("dcs client: endpoint must not hold user information")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("dcs client: endpoint %q must not have a query or fragment", raw)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}

// validID accepts the characters that need no escaping in a path segment,
// so that the signed path and the sent path cannot differ.
func validID(s string) bool {
	if s == "" || len(s) > maxIDLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~') {
			return false
		}
	}
	return s != "." && s != ".."
}

// Show fetches one task's details. A task that no longer exists fails with
// ErrGone.
func (c *Client) Show(ctx context.Context, taskID string) (_ Task, _ Info, err error) {
	defer c.observed(opShow, time.Now(), &err)
	if !validID(taskID) {
		return Task{}, Info{}, apiErrorf(opShow, "", ErrRequest, "task id %q: want 1 to %d letters, digits, '-', '_', '.' or '~'", taskID, maxIDLength)
	}
	body, info, err := c.get(ctx, opShow, taskID, "migration-task/"+taskID, nil)
	if err != nil {
		return Task{}, info, err
	}
	t, nulls, err := decodeTaskNulls(body)
	info.Nulls = nulls
	if err == nil && t.ID != taskID {
		err = errors.New("task_id of the answer differs from the task asked for")
	}
	if err != nil {
		return Task{}, info, c.badResponse(opShow, taskID, info, fmt.Errorf("decode task: %w", err))
	}
	return t, info, nil
}

// get sends one signed GET of {endpoint}/v2/{project_id}/{rel} and returns
// the body of a 2xx answer.
func (c *Client) get(ctx context.Context, op, taskID, rel string, q url.Values) ([]byte, Info, error) {
	u := *c.base
	u.Path = c.base.Path + "/v2/" + c.projectID + "/" + rel
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, Info{}, apiErrorf(op, taskID, ErrRequest, "build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set(headerProjectID, c.projectID)
	cred := c.cred
	if c.source != nil {
		if cred, err = c.source.Credentials(ctx); err != nil {
			if ctx.Err() != nil {
				return nil, Info{}, c.transportError(ctx, op, taskID, 0, "", err)
			}
			// A source that cannot give credentials (the metadata service
			// down, the agency detached) is worth retrying later.
			return nil, Info{}, apiErrorf(op, taskID, ErrRetryable, "credentials: %w", err)
		}
	}
	if !cred.IsZero() {
		if err := Sign(req, cred, c.now()); err != nil {
			return nil, Info{}, apiErrorf(op, taskID, ErrAuth, "%w", err)
		}
	}
	for _, lim := range []*rate.Limiter{c.limiter, c.account} {
		if lim == nil {
			continue
		}
		if err := lim.Wait(ctx); err != nil {
			return nil, Info{}, c.transportError(ctx, op, taskID, 0, "", fmt.Errorf("client-side rate limit: %w", err))
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, Info{}, c.transportError(ctx, op, taskID, 0, "", err)
	}
	defer resp.Body.Close()
	info := Info{RequestID: resp.Header.Get("X-Request-Id"), HTTPStatus: resp.StatusCode}

	body, tooBig, err := readLimited(resp.Body, c.maxBody, resp.ContentLength)
	if err != nil {
		return nil, info, c.transportError(ctx, op, taskID, resp.StatusCode, info.RequestID, fmt.Errorf("read body: %w", err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, info, c.statusError(op, taskID, resp, info, body, tooBig, cred)
	}
	if tooBig {
		return nil, info, c.badResponse(op, taskID, info, fmt.Errorf("body exceeds %d bytes", c.maxBody))
	}
	return body, info, nil
}

// observed reports a call that began at start and ended with *err.
func (c *Client) observed(call string, start time.Time, err *error) {
	if c.observe == nil {
		return
	}
	outcome := "ok"
	if *err != nil {
		if outcome = Class(*err); outcome == "" {
			outcome = "canceled"
		}
	}
	c.observe(call, outcome, time.Since(start))
}

// readLimited reads at most limit bytes, and says whether there was more.
// The rest is left unread: the connection is dropped rather than drained.
// size is the length the answer announces (-1: unknown): the buffer is
// sized for it at once instead of doubling as it fills, which made twice
// a list page's bytes in garbage (a list of 100k tasks is 100 MB a cycle).
func readLimited(r io.Reader, limit, size int64) ([]byte, bool, error) {
	var buf bytes.Buffer
	if size >= 0 && size <= limit {
		buf.Grow(int(size) + bytes.MinRead) // ReadFrom wants MinRead free to see the end
	}
	if _, err := buf.ReadFrom(io.LimitReader(r, limit+1)); err != nil {
		return nil, false, err
	}
	b := buf.Bytes()
	if int64(len(b)) > limit {
		return b[:limit], true, nil
	}
	return b, false, nil
}

// transportError classifies a failure without a usable answer. A call the
// caller cancelled is no API failure and gets no class; the caller's deadline
// and every network failure are ErrRetryable.
func (c *Client) transportError(ctx context.Context, op, taskID string, status int, requestID string, err error) error {
	e := &APIError{Op: op, TaskID: taskID, HTTPStatus: status, RequestID: requestID, Class: ErrRetryable, Err: err}
	if ctxErr := ctx.Err(); ctxErr != nil {
		e.Err = fmt.Errorf("%w (%v)", ctxErr, secret.URLCause(err))
		if errors.Is(ctxErr, context.Canceled) {
			e.Class = nil
		}
	}
	return e
}

// statusError builds the error of a non-2xx answer from its status, its
// error body (when readable) and its headers.
func (c *Client) statusError(op, taskID string, resp *http.Response, info Info, body []byte, tooBig bool, cred Credentials) error {
	var eb apiErrorBody
	if !tooBig {
		eb = decodeErrorBody(body)
	}
	e := &APIError{
		Op:         op,
		TaskID:     taskID,
		HTTPStatus: resp.StatusCode,
		Code:       cleanMessage(eb.Code, cred.secrets()...),
		Message:    cleanMessage(eb.Message, cred.secrets()...),
		RequestID:  info.RequestID,
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), c.now()),
	}
	if e.RequestID == "" {
		e.RequestID = cleanMessage(eb.RequestID, cred.secrets()...)
	}
	e.Class = classify(op, resp.StatusCode, e.Code)
	return e
}

func (c *Client) badResponse(op, taskID string, info Info, err error) error {
	return &APIError{Op: op, TaskID: taskID, HTTPStatus: info.HTTPStatus, RequestID: info.RequestID, Class: ErrBadResponse, Err: err}
}

// Transport is an HTTP transport that keeps conns idle connections to the
// API open, for conns calls in flight. The default transport keeps two per
// host: with more calls in flight, every call beyond two dials and closes a
// connection of its own (with TLS, a handshake), which was the top item of
// the poller's CPU profile.
func Transport(conns int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = max(conns, 2)
	t.MaxIdleConns = max(t.MaxIdleConns, t.MaxIdleConnsPerHost)
	return t
}
