package dcs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dcs-watcher/watcher/internal/secret"
)

// defaultIAMEndpoint is the global IAM endpoint the SDK defaults to.
const defaultIAMEndpoint = "https://iam.myhuaweicloud.com"

// ProjectLookup says how to find a region's project id in IAM.
type ProjectLookup struct {
	Endpoint   string // default defaultIAMEndpoint
	Region     string // the project's name is the region's, e.g. cn-north-4
	Source     CredentialSource
	HTTPClient *http.Client // default: a 30 s timeout
	Now        func() time.Time
	UserAgent  string
}

// LookupProjectID asks IAM for the project named after the region (GET
// /v3/projects?name=<region>, signed like any call, or with X-Auth-Token),
// as the SDK does when no project id is given. Exactly one project must
// match. Errors carry the HTTP status, IAM's error code and X-IAM-Trace-Id,
// never a credential.
func LookupProjectID(ctx context.Context, o ProjectLookup) (string, error) {
	base := strings.TrimSpace(o.Endpoint)
	if base == "" {
		base = defaultIAMEndpoint
	}
	u, err := parseEndpoint(base)
	if err != nil {
		return "", fmt.Errorf("iam project lookup: %w", err)
	}
	if o.Region == "" {
		return "", fmt.Errorf("iam project lookup: no region to look up (set dcs.region or dcs.project_id)")
	}
	u.Path += "/v3/projects"
	u.RawQuery = url.Values{"name": {o.Region}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("iam project lookup: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	ua := o.UserAgent
	if ua == "" {
		ua = defaultUserAgent
	}
	req.Header.Set("User-Agent", ua)
	cred, err := o.Source.Credentials(ctx)
	if err != nil {
		return "", fmt.Errorf("iam project lookup: %w", err)
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	if err := Sign(req, cred, now()); err != nil {
		return "", fmt.Errorf("iam project lookup: %w", err)
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: defaultHTTPTimeout}
	}
	noRedirect := *hc
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := noRedirect.Do(req)
	if err != nil {
		return "", fmt.Errorf("iam project lookup at %s: %w", u.Host, secret.URLCause(err))
	}
	defer resp.Body.Close()
	body, _, err := readLimited(resp.Body, defaultMaxBodyBytes, resp.ContentLength)
	if err != nil {
		return "", fmt.Errorf("iam project lookup at %s: read body: %w", u.Host, err)
	}
	trace := cleanMessage(resp.Header.Get("X-IAM-Trace-Id"), cred.secrets()...)
	if resp.StatusCode != http.StatusOK {
		eb := decodeErrorBody(body)
		return "", fmt.Errorf("iam project lookup at %s: HTTP %d %s %s (X-IAM-Trace-Id %s)", u.Host, resp.StatusCode,
			cleanMessage(eb.Code, cred.secrets()...), cleanMessage(eb.Message, cred.secrets()...), trace)
	}
	var doc struct {
		Projects []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"projects"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("iam project lookup at %s: decode: %w", u.Host, err)
	}
	var ids []string
	for _, p := range doc.Projects {
		if p.Name == o.Region && validID(p.ID) {
			ids = append(ids, p.ID)
		}
	}
	switch len(ids) {
	case 0:
		return "", fmt.Errorf("iam project lookup: no project named %q in the account (X-IAM-Trace-Id %s); check dcs.region or set dcs.project_id", o.Region, trace)
	case 1:
		return ids[0], nil
	}
	return "", fmt.Errorf("iam project lookup: %d projects named %q (%s); set dcs.project_id to one", len(ids), o.Region, strings.Join(ids, ", "))
}
