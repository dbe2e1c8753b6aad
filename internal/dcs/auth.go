package dcs

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"

	"github.com/dcs-watcher/watcher/internal/secret"
)

// Header names, in the canonical form the SDK's signer expects: it adds
// X-Sdk-Date under exactly that name and lower-cases every name when it signs,
// so two spellings of one header would be signed twice.
const (
	headerDate          = signer.HeaderXDate // X-Sdk-Date
	headerAuthorization = "Authorization"
	headerSecurityToken = "X-Security-Token"
	headerAuthToken     = "X-Auth-Token"
	headerProjectID     = "X-Project-Id"
	signingAlgorithm    = "SDK-HMAC-SHA256"
	maxSignedBodyBytes  = 8 << 20
)

// Credentials authenticate calls. With AK and SK set, requests are signed
// (SDK-HMAC-SHA256); SecurityToken marks temporary AK/SK. AuthToken is an IAM
// token, used only when there is no AK/SK. Every field is a secret.Secret, so
// printing Credentials shows no value.
type Credentials struct {
	AK, SK, SecurityToken, AuthToken secret.Secret
}

// credentialsFromEnv reads the variables the Huawei Cloud SDKs and tools read:
// HUAWEICLOUD_SDK_AK, HUAWEICLOUD_SDK_SK, HUAWEICLOUD_SDK_SECURITY_TOKEN.
func credentialsFromEnv(getenv func(string) string) Credentials {
	get := func(k string) secret.Secret { return secret.Secret(strings.TrimSpace(getenv(k))) }
	return Credentials{
		AK:            get("HUAWEICLOUD_SDK_AK"),
		SK:            get("HUAWEICLOUD_SDK_SK"),
		SecurityToken: get("HUAWEICLOUD_SDK_SECURITY_TOKEN"),
	}
}

// IsZero reports whether no credential is set.
func (c Credentials) IsZero() bool { return c == Credentials{} }

// validate checks that the credentials can authenticate a request, or are
// empty (unauthenticated, e.g. against a local simulator).
func (c Credentials) validate() error {
	switch {
	case (c.AK == "") != (c.SK == ""):
		return errors.New("credentials: AK and SK must be set together")
	case c.SecurityToken != "" && c.AK == "":
		return errors.New("credentials: a security token needs AK and SK")
	}
	return nil
}

// secrets lists the credential values, for scrubbing text that comes back
// from the server.
func (c Credentials) secrets() []string {
	return []string{c.AK.Reveal(), c.SK.Reveal(), c.SecurityToken.Reveal(), c.AuthToken.Reveal()}
}

// Sign authenticates req. With AK/SK it sets X-Sdk-Date from now,
// X-Security-Token for temporary credentials, and an Authorization header
// computed by the SDK's SDK-HMAC-SHA256 signer over the method, path, query,
// body and every header present when Sign is called (the signer leaves out
// Content-Type and names holding "_"). Set all other headers before Sign and
// change none after it. Without AK/SK it sets X-Auth-Token from AuthToken.
// Errors never hold a credential.
func Sign(req *http.Request, cred Credentials, now time.Time) error {
	if err := cred.validate(); err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	ak, sk := cred.AK.Reveal(), cred.SK.Reveal()
	if ak == "" {
		if cred.AuthToken == "" {
			return errors.New("sign request: no credentials")
		}
		req.Header.Set(headerAuthToken, cred.AuthToken.Reveal())
		return nil
	}
	req.Header.Del(headerAuthorization)
	if tok := cred.SecurityToken.Reveal(); tok != "" {
		req.Header.Set(headerSecurityToken, tok)
	}
	req.Header.Set(headerDate, now.UTC().Format(signer.BasicDateFormat))
	body, err := readBody(req)
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	sdkReq := sdkRequest(req, req.Header, body)
	added, err := signer.Sign(sdkReq, ak, sk)
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	// The signer may add a header it signed (X-Sdk-Content-Sha256 for a
	// body that is not JSON): it must go on the wire too.
	for k, v := range sdkReq.GetHeaderParams() {
		if req.Header.Get(k) == "" {
			req.Header.Set(k, v)
		}
	}
	req.Header.Set(headerAuthorization, added[headerAuthorization])
	return nil
}

// errBadSignature is the class of every VerifySignature failure.
var errBadSignature = errors.New("signature rejected")

// VerifySignature checks an SDK-HMAC-SHA256 Authorization header the way the
// API gateway does: the access key must be ak, X-Sdk-Date within maxSkew of
// now, every signed header present, and the signature equal (constant-time)
// to the one the SDK's signer computes with sk over the received method,
// path, query, body and signed headers. A request signed by Sign passes when
// nothing changed on the way. The error wraps errBadSignature and names what
// failed, never a key or a signature.
func VerifySignature(req *http.Request, ak, sk string, now time.Time, maxSkew time.Duration) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", errBadSignature, fmt.Sprintf(format, args...))
	}
	if ak == "" || sk == "" {
		return fail("verifier has no AK/SK")
	}
	got, err := parseAuthorization(req.Header.Get(headerAuthorization))
	if err != nil {
		return fail("%v", err)
	}
	if subtle.ConstantTimeCompare([]byte(got.access), []byte(ak)) != 1 {
		return fail("unknown access key")
	}
	date, err := time.Parse(signer.BasicDateFormat, req.Header.Get(headerDate))
	if err != nil {
		return fail("%s missing or not in the form 20060102T150405Z", headerDate)
	}
	if skew := now.Sub(date).Abs(); skew > maxSkew {
		return fail("%s is %s away from the server clock (at most %s)", headerDate, skew.Round(time.Second), maxSkew)
	}
	h, err := signedHeaders(req, got.signedHeaders)
	if err != nil {
		return fail("%v", err)
	}
	body, err := readBody(req)
	if err != nil {
		return fail("%v", err)
	}
	added, err := signer.Sign(sdkRequest(req, h, body), ak, sk)
	if err != nil {
		return fail("recompute: %v", err)
	}
	want, err := parseAuthorization(added[headerAuthorization])
	if err != nil {
		return fail("recompute: %v", err)
	}
	if want.signedHeaders != got.signedHeaders {
		return fail("SignedHeaders list is not canonical")
	}
	if subtle.ConstantTimeCompare([]byte(want.signature), []byte(got.signature)) != 1 {
		return fail("signature does not match")
	}
	return nil
}

type authorization struct{ access, signedHeaders, signature string }

// parseAuthorization reads
// "SDK-HMAC-SHA256 Access=<ak>, SignedHeaders=<a;b>, Signature=<hex>".
func parseAuthorization(v string) (authorization, error) {
	alg, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || alg != signingAlgorithm {
		return authorization{}, errors.New("authorization header missing or not " + signingAlgorithm)
	}
	var a authorization
	for part := range strings.SplitSeq(rest, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Access":
			a.access = val
		case "SignedHeaders":
			a.signedHeaders = val
		case "Signature":
			a.signature = val
		}
	}
	if a.access == "" || a.signedHeaders == "" || a.signature == "" {
		return authorization{}, errors.New("authorization header lacks Access, SignedHeaders or Signature")
	}
	return a, nil
}

// signedHeaders collects the headers a received request claims to have
// signed, under their canonical names.
func signedHeaders(req *http.Request, list string) (http.Header, error) {
	h := http.Header{}
	for name := range strings.SplitSeq(list, ";") {
		if name == "" || name != strings.ToLower(name) {
			return nil, errors.New("SignedHeaders holds an empty or upper-case name")
		}
		if name == "host" { // net/http moves Host out of the header map
			h.Set("Host", req.Host)
			continue
		}
		vals := req.Header.Values(name)
		if len(vals) == 0 {
			return nil, fmt.Errorf("signed header %q not in the request", name)
		}
		h[http.CanonicalHeaderKey(name)] = vals
	}
	if h.Get(headerDate) == "" {
		return nil, fmt.Errorf("%s is not signed", headerDate)
	}
	return h, nil
}

// sdkRequest mirrors req as the SDK's request type, with the given headers.
// Query values go in as reflect.Values: the signer skips any other kind.
func sdkRequest(req *http.Request, h http.Header, body []byte) *request.DefaultHttpRequest {
	b := request.NewHttpRequestBuilder().
		WithEndpoint(endpointOf(req)).
		WithPath(req.URL.Path).
		WithMethod(req.Method)
	for k, vals := range req.URL.Query() {
		b.AddQueryParam(k, reflect.ValueOf(vals))
	}
	merged := map[string][]string{}
	for k, vals := range h {
		ck := http.CanonicalHeaderKey(k)
		merged[ck] = append(merged[ck], vals...)
	}
	for k, vals := range merged {
		b.AddHeaderParam(k, strings.Join(vals, ","))
	}
	if len(body) > 0 {
		b.WithBody("", string(body))
	}
	return b.Build()
}

func endpointOf(req *http.Request) string {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	scheme := req.URL.Scheme
	if scheme == "" {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: host}).String()
}

// readBody returns the request body and leaves req able to send or read it
// again.
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	if req.GetBody != nil {
		rc, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
		defer rc.Close()
		return readCapped(rc)
	}
	b, err := readCapped(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	req.Body = io.NopCloser(bytes.NewReader(b))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return b, nil
}

func readCapped(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxSignedBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(b) > maxSignedBodyBytes {
		return nil, fmt.Errorf("body exceeds %d bytes", maxSignedBodyBytes)
	}
	return b, nil
}
