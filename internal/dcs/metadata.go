package dcs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dcs-watcher/watcher/internal/secret"
)

// The ECS metadata service's wire format, as the SDK's MetadataAccessor
// speaks it: an optional session token (PUT, IMDSv2 style), then the
// temporary AK/SK of the instance's agency.
const (
	defaultMetadataEndpoint = "http://169.254.169.254"
	metadataTokenPath       = "/meta-data/latest/api/token"
	metadataSecurityKeyPath = "/openstack/latest/securitykey"
	headerMetadataToken     = "X-Metadata-Token"
	headerMetadataTokenTTL  = "X-Metadata-Token-Ttl-Seconds"
	metadataTokenTTL        = 6 * time.Hour
	metadataNoAgency        = "Please configure Cloud Service Agency first"
	maxMetadataBody         = 64 << 10

	// defaultRefreshBefore is how long before expiry the credentials are
	// replaced: the SDK's threshold (40 min).
	defaultRefreshBefore = 40 * time.Minute
	// minRefreshGap is the least time between two fetches while the
	// credentials in hand are still valid, so that credentials issued with
	// less than RefreshBefore to live, or a failing metadata service, do not
	// cost a metadata call per API call.
	minRefreshGap = 30 * time.Second
)

// MetadataOptions configure a Metadata source.
type MetadataOptions struct {
	Endpoint      string        // default defaultMetadataEndpoint
	HTTPClient    *http.Client  // default: a 5 s timeout
	RefreshBefore time.Duration // default defaultRefreshBefore
	Now           func() time.Time
}

// Metadata is a CredentialSource of the temporary credentials of the ECS the
// watcher runs on (its agency), read from the metadata service and replaced
// RefreshBefore their expiry, on the first call that needs them: between
// refreshes, calls cost no metadata request. While a refresh fails, the
// credentials in hand serve until they expire, and the refresh is retried at
// most every 30 s.
//
// It is our own rather than the SDK's MetadataCredentialProvider because that
// one reaches a package variable of an internal package for its address (a
// test cannot point it at a test server), uses a client of its own without a
// context, and puts the metadata service's answer in its errors.
type Metadata struct {
	base          string
	hc            *http.Client
	refreshBefore time.Duration
	now           func() time.Time

	// sem is a mutex that a waiter can give up on with its ctx: one fetch at
	// a time, and callers waiting for it keep their deadline.
	sem       chan struct{}
	cur       Credentials
	expires   time.Time
	nextFetch time.Time
	token     string // metadata session token; "" when the service wants none
}

// NewMetadata checks o and returns a Metadata source; it fetches nothing.
func NewMetadata(o MetadataOptions) (*Metadata, error) {
	base := strings.TrimRight(strings.TrimSpace(o.Endpoint), "/")
	if base == "" {
		base = defaultMetadataEndpoint
	}
	if _, err := parseEndpoint(base); err != nil {
		return nil, fmt.Errorf("metadata credentials: %w", err)
	}
	m := &Metadata{base: base, hc: o.HTTPClient, refreshBefore: o.RefreshBefore, now: o.Now, sem: make(chan struct{}, 1)}
	if m.hc == nil {
		m.hc = &http.Client{Timeout: 5 * time.Second}
	}
	if m.refreshBefore <= 0 {
		m.refreshBefore = defaultRefreshBefore
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m, nil
}

// Credentials returns the current temporary credentials, fetching new ones
// when they are due for refresh.
func (m *Metadata) Credentials(ctx context.Context) (Credentials, error) {
	select {
	case m.sem <- struct{}{}:
	case <-ctx.Done():
		return Credentials{}, fmt.Errorf("metadata credentials: %w", ctx.Err())
	}
	defer func() { <-m.sem }()
	now := m.now()
	valid := !m.cur.IsZero() && now.Before(m.expires)
	if valid && (now.Before(m.expires.Add(-m.refreshBefore)) || now.Before(m.nextFetch)) {
		return m.cur, nil
	}
	c, exp, err := m.fetch(ctx)
	m.nextFetch = now.Add(minRefreshGap)
	if err != nil {
		if valid {
			return m.cur, nil // still good; the refresh is retried after minRefreshGap
		}
		return Credentials{}, err
	}
	if !exp.After(now) {
		return Credentials{}, fmt.Errorf("metadata credentials: the service gave credentials that expired at %s", exp.UTC().Format(time.RFC3339))
	}
	m.cur, m.expires = c, exp
	return c, nil
}

// Expires is when the credentials in hand expire (zero before the first).
func (m *Metadata) Expires() time.Time {
	m.sem <- struct{}{}
	defer func() { <-m.sem }()
	return m.expires
}

// fetch reads the security key, getting or renewing the session token when
// the service asks for one, as the SDK does.
func (m *Metadata) fetch(ctx context.Context) (Credentials, time.Time, error) {
	if m.token == "" {
		if err := m.newToken(ctx, false); err != nil {
			return Credentials{}, time.Time{}, err
		}
	}
	status, body, err := m.do(ctx, http.MethodGet, metadataSecurityKeyPath, m.token)
	if err != nil {
		return Credentials{}, time.Time{}, err
	}
	if status == http.StatusUnauthorized && !strings.Contains(string(body), metadataNoAgency) {
		if err := m.newToken(ctx, true); err != nil {
			return Credentials{}, time.Time{}, err
		}
		if status, body, err = m.do(ctx, http.MethodGet, metadataSecurityKeyPath, m.token); err != nil {
			return Credentials{}, time.Time{}, err
		}
	}
	if status != http.StatusOK {
		// The body is not repeated: it is the service's, and may hold
		// anything; the known agency message is recognised instead.
		if strings.Contains(string(body), metadataNoAgency) {
			return Credentials{}, time.Time{}, fmt.Errorf("metadata credentials: HTTP %d: the ECS has no agency; attach one with DCS read access to the instance", status)
		}
		return Credentials{}, time.Time{}, fmt.Errorf("metadata credentials: GET %s: HTTP %d", metadataSecurityKeyPath, status)
	}
	return decodeSecurityKey(body)
}

// newToken asks for a metadata session token. A service that does not
// issue them (404, 405, 503) is used without one unless required.
func (m *Metadata) newToken(ctx context.Context, required bool) error {
	status, body, err := m.do(ctx, http.MethodPut, metadataTokenPath, "")
	if err != nil {
		return err
	}
	switch {
	case status == http.StatusOK:
		m.token = strings.TrimSpace(string(body))
		return nil
	case !required && (status == http.StatusNotFound || status == http.StatusMethodNotAllowed || status == http.StatusServiceUnavailable):
		m.token = ""
		return nil
	}
	return fmt.Errorf("metadata credentials: PUT %s: HTTP %d", metadataTokenPath, status)
}

func (m *Metadata) do(ctx context.Context, method, path, token string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, m.base+path, http.NoBody)
	if err != nil {
		return 0, nil, fmt.Errorf("metadata credentials: %w", err)
	}
	if method == http.MethodPut {
		req.Header.Set(headerMetadataTokenTTL, strconv.Itoa(int(metadataTokenTTL/time.Second)))
	}
	if token != "" {
		req.Header.Set(headerMetadataToken, token)
	}
	resp, err := m.hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("metadata credentials: %s %s: %w", method, path, secret.URLCause(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataBody))
	if err != nil {
		return 0, nil, fmt.Errorf("metadata credentials: %s %s: read body: %w", method, path, err)
	}
	return resp.StatusCode, body, nil
}

// decodeSecurityKey reads
// {"credential":{"access":..,"secret":..,"securitytoken":..,"expires_at":"2020-01-08T03:50:07.574000Z"}}
// (the SDK also accepts the camel-case names of the pod-identity answer).
// Errors name the missing field, never a value.
func decodeSecurityKey(body []byte) (Credentials, time.Time, error) {
	var doc struct {
		Credential map[string]string `json:"credential"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || doc.Credential == nil {
		return Credentials{}, time.Time{}, errors.New("metadata credentials: the answer is not {\"credential\": {...}}")
	}
	pick := func(names ...string) (string, error) {
		for _, n := range names {
			if v := strings.TrimSpace(doc.Credential[n]); v != "" {
				return v, nil
			}
		}
		return "", fmt.Errorf("metadata credentials: the answer has no %s", strings.Join(names, " or "))
	}
	var vals [4]string
	for i, names := range [][]string{{"access", "accessKeyId"}, {"secret", "secretAccessKey"}, {"securitytoken", "securityToken"}, {"expires_at", "expiration"}} {
		v, err := pick(names...)
		if err != nil {
			return Credentials{}, time.Time{}, err
		}
		vals[i] = v
	}
	exp, err := time.Parse(time.RFC3339Nano, vals[3])
	if err != nil {
		return Credentials{}, time.Time{}, errors.New("metadata credentials: expires_at is not an RFC 3339 time")
	}
	return Credentials{AK: secret.Secret(vals[0]), SK: secret.Secret(vals[1]), SecurityToken: secret.Secret(vals[2])}, exp, nil
}
