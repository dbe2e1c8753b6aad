package dcs

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

// Planted credentials: no output of the package may contain them.
const (
	testAK    = "AKPLANTEDQWERTY0001"
	testSK    = "SKplantedSecretKey0002"
	testToken = "TOKplantedSecurityToken0003"
	testIAM   = "IAMplantedAuthToken0004"
)

var testNow = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func testCreds() Credentials { return Credentials{AK: testAK, SK: testSK} }

// assertNoSecret fails if text holds a planted credential or password.
func assertNoSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range []string{testAK, testSK, testToken, testIAM, examplePassword, fuzzPassword} {
		if strings.Contains(text, s) {
			t.Errorf("%s leaks %q: %s", what, s, text)
		}
	}
}

func newSignedRequest(t *testing.T, target string, cred Credentials) *http.Request {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, target, nil)
	req.Header.Set("User-Agent", "test")
	req.Header.Set(headerProjectID, "p1")
	if err := Sign(req, cred, testNow); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return req
}

// TestSignMatchesSDKVector signs the request of the SDK's own signer test
// through net/http and expects the SDK's published signature.
func TestSignMatchesSDKVector(t *testing.T) {
	req, err := http.NewRequest(http.MethodGet, "https://example.huaweicloud.com/path?limit=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("TEST_UNDERSCORE", "TEST_VALUE") // not signed: holds "_"
	now := time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC)
	if err := Sign(req, Credentials{AK: "AccessKey", SK: "SecretKey"}, now); err != nil {
		t.Fatal(err)
	}
	want := "SDK-HMAC-SHA256 Access=AccessKey, SignedHeaders=x-sdk-date, " +
		"Signature=5a2ce64c865e0e6046321c6f3d5a77ba8413eeaf355c3166c03d58d02ac79624"
	if got := req.Header.Get("Authorization"); got != want {
		t.Errorf("Authorization\n got %s\nwant %s", got, want)
	}
	if got := req.Header.Get("X-Sdk-Date"); got != "20060102T150405Z" {
		t.Errorf("X-Sdk-Date = %q", got)
	}
}

// referenceSignature computes the signature of a received request by the
// algorithm as documented (not by the SDK), as an independent check that what
// the client sends is what a gateway would accept.
func referenceSignature(r *http.Request, signed []string, sk string) string {
	esc := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			c := s[i]
			if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || strings.IndexByte("_-~.", c) >= 0 {
				b.WriteByte(c)
			} else {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		}
		return b.String()
	}
	segs := strings.Split(r.URL.Path, "/")
	for i := range segs {
		segs[i] = esc(segs[i])
	}
	uri := strings.Join(segs, "/")
	if !strings.HasSuffix(uri, "/") {
		uri += "/"
	}
	q := r.URL.Query()
	var keys []string
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var qs []string
	for _, k := range keys {
		vals := append([]string(nil), q[k]...)
		sort.Strings(vals)
		for _, v := range vals {
			qs = append(qs, esc(k)+"="+esc(v))
		}
	}
	var hb strings.Builder
	for _, h := range signed {
		hb.WriteString(h + ":" + strings.TrimSpace(r.Header.Get(h)) + "\n")
	}
	empty := sha256.Sum256(nil)
	canonical := strings.Join([]string{r.Method, uri, strings.Join(qs, "&"), hb.String(), strings.Join(signed, ";"), hex.EncodeToString(empty[:])}, "\n")
	crHash := sha256.Sum256([]byte(canonical))
	sts := "SDK-HMAC-SHA256\n" + r.Header.Get("X-Sdk-Date") + "\n" + hex.EncodeToString(crHash[:])
	m := hmac.New(sha256.New, []byte(sk))
	m.Write([]byte(sts))
	return hex.EncodeToString(m.Sum(nil))
}

func TestSignAgreesWithDocumentedAlgorithm(t *testing.T) {
	req := newSignedRequest(t, "https://dcs.example.com/v2/p1/migration-tasks?offset=0&limit=1000&name=a%20b%2Fc", testCreds())
	a, err := parseAuthorization(req.Header.Get("Authorization"))
	if err != nil {
		t.Fatal(err)
	}
	if a.signedHeaders != "user-agent;x-project-id;x-sdk-date" {
		t.Errorf("SignedHeaders = %q", a.signedHeaders)
	}
	if want := referenceSignature(req, strings.Split(a.signedHeaders, ";"), testSK); a.signature != want {
		t.Errorf("signature %s, documented algorithm gives %s", a.signature, want)
	}
	if got := req.Header.Get("X-Sdk-Date"); got != "20250304T050607Z" {
		t.Errorf("X-Sdk-Date = %q, want the injected clock", got)
	}
}

func TestVerifySignature(t *testing.T) {
	const target = "https://dcs.example.com/v2/p1/migration-tasks?limit=10&offset=20&name=x"
	tests := []struct {
		name    string
		cred    Credentials
		tamper  func(*http.Request)
		ak, sk  string
		now     time.Time
		wantErr string // "" = valid
	}{
		{name: "valid", cred: testCreds(), ak: testAK, sk: testSK, now: testNow},
		{name: "valid with temporary credentials", cred: Credentials{AK: testAK, SK: testSK, SecurityToken: testToken}, ak: testAK, sk: testSK, now: testNow},
		{name: "skew within limit", cred: testCreds(), ak: testAK, sk: testSK, now: testNow.Add(14 * time.Minute)},
		{name: "wrong SK", cred: Credentials{AK: testAK, SK: "another-sk"}, ak: testAK, sk: testSK, now: testNow, wantErr: "signature does not match"},
		{name: "unknown AK", cred: Credentials{AK: "other-ak", SK: testSK}, ak: testAK, sk: testSK, now: testNow, wantErr: "unknown access key"},
		{name: "clock skew", cred: testCreds(), ak: testAK, sk: testSK, now: testNow.Add(16 * time.Minute), wantErr: "away from the server clock"},
		{name: "query changed", cred: testCreds(), ak: testAK, sk: testSK, now: testNow, wantErr: "signature does not match",
			tamper: func(r *http.Request) { r.URL.RawQuery = "limit=10&offset=30&name=x" }},
		{name: "path changed", cred: testCreds(), ak: testAK, sk: testSK, now: testNow, wantErr: "signature does not match",
			tamper: func(r *http.Request) { r.URL.Path = "/v2/p2/migration-tasks" }},
		{name: "signed header changed", cred: testCreds(), ak: testAK, sk: testSK, now: testNow, wantErr: "signature does not match",
			tamper: func(r *http.Request) { r.Header.Set(headerProjectID, "p2") }},
		{name: "signed header dropped", cred: testCreds(), ak: testAK, sk: testSK, now: testNow, wantErr: `signed header "x-project-id" not in the request`,
			tamper: func(r *http.Request) { r.Header.Del(headerProjectID) }},
		{name: "security token dropped", cred: Credentials{AK: testAK, SK: testSK, SecurityToken: testToken}, ak: testAK, sk: testSK, now: testNow,
			wantErr: `signed header "x-security-token" not in the request`,
			tamper:  func(r *http.Request) { r.Header.Del(headerSecurityToken) }},
		{name: "no Authorization", cred: testCreds(), ak: testAK, sk: testSK, now: testNow, wantErr: "authorization header missing",
			tamper: func(r *http.Request) { r.Header.Del("Authorization") }},
		{name: "unsigned extra header is fine", cred: testCreds(), ak: testAK, sk: testSK, now: testNow,
			tamper: func(r *http.Request) { r.Header.Set("Accept-Encoding", "gzip") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newSignedRequest(t, target, tt.cred)
			if tt.tamper != nil {
				tt.tamper(req)
			}
			err := VerifySignature(req, tt.ak, tt.sk, tt.now, 15*time.Minute)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("VerifySignature: %v", err)
				}
				return
			}
			if !errors.Is(err, errBadSignature) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want errBadSignature with %q", err, tt.wantErr)
			}
			assertNoSecret(t, "verify error", err.Error())
		})
	}
}

func TestSignTokenAndTemporaryCredentials(t *testing.T) {
	req := newSignedRequest(t, "https://dcs.example.com/v2/p1/migration-task/t1", Credentials{AuthToken: testIAM})
	if got := req.Header.Get("X-Auth-Token"); got != testIAM {
		t.Errorf("X-Auth-Token = %q", got)
	}
	if req.Header.Get("Authorization") != "" || req.Header.Get("X-Sdk-Date") != "" {
		t.Errorf("token auth also signed: %v", req.Header)
	}

	req = newSignedRequest(t, "https://dcs.example.com/v2/p1/migration-task/t1", Credentials{AK: testAK, SK: testSK, SecurityToken: testToken})
	if got := req.Header.Get("X-Security-Token"); got != testToken {
		t.Errorf("X-Security-Token = %q", got)
	}
	if !strings.Contains(req.Header.Get("Authorization"), "x-security-token") {
		t.Errorf("security token not signed: %s", req.Header.Get("Authorization"))
	}
}

func TestSignRejectsIncompleteCredentials(t *testing.T) {
	for _, c := range []Credentials{{}, {AK: testAK}, {SK: testSK}, {SecurityToken: testToken}} {
		req := httptest.NewRequest(http.MethodGet, "https://dcs.example.com/", nil)
		err := Sign(req, c, testNow)
		if err == nil {
			t.Errorf("Sign(%v) succeeded", c)
			continue
		}
		assertNoSecret(t, "sign error", err.Error())
	}
}

func TestCredentialsNeverPrint(t *testing.T) {
	c := Credentials{AK: testAK, SK: testSK, SecurityToken: testToken, AuthToken: testIAM}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s", c, c, c, c.AK), string(j)} {
		assertNoSecret(t, "printed credentials", out)
		if !strings.Contains(out, "secret") {
			t.Errorf("no <secret> marker in %s", out)
		}
	}
}

func TestCredentialsFromEnv(t *testing.T) {
	env := map[string]string{
		"HUAWEICLOUD_SDK_AK":             testAK,
		"HUAWEICLOUD_SDK_SK":             " " + testSK + "\n",
		"HUAWEICLOUD_SDK_SECURITY_TOKEN": testToken,
	}
	got := credentialsFromEnv(func(k string) string { return env[k] })
	want := Credentials{AK: testAK, SK: testSK, SecurityToken: testToken}
	if got != want {
		t.Errorf("credentialsFromEnv = %#v (values hidden); AK ok=%v SK ok=%v token ok=%v",
			got, got.AK == want.AK, got.SK == want.SK, got.SecurityToken == want.SecurityToken)
	}
	if !credentialsFromEnv(func(string) string { return "" }).IsZero() {
		t.Error("empty environment gave credentials")
	}
}

func TestEndpointForRegion(t *testing.T) {
	tests := []struct {
		region string
		env    map[string]string
		want   string
	}{
		{"cn-north-4", nil, "https://dcs.cn-north-4.myhuaweicloud.com"},
		{"ap-southeast-1", map[string]string{"HUAWEICLOUD_SDK_REGION_DCS_AP_SOUTHEAST_1": "https://dcs.internal:8443"}, "https://dcs.internal:8443"},
		{"eu-west-101", map[string]string{"HUAWEICLOUD_SDK_REGION_DCS_EU_WEST_101": " http://a:1 , http://b:2"}, "http://a:1"},
		{"cn-north-4", map[string]string{"HUAWEICLOUD_SDK_REGION_DCS_CN_NORTH_1": "http://other"}, "https://dcs.cn-north-4.myhuaweicloud.com"},
	}
	for _, tt := range tests {
		if got := EndpointForRegion(tt.region, func(k string) string { return tt.env[k] }); got != tt.want {
			t.Errorf("EndpointForRegion(%q) = %q, want %q", tt.region, got, tt.want)
		}
	}
}

// TestVerifySignatureOverTheWire signs in the client, sends through a real
// HTTP connection and verifies in the server: what arrives is what was signed.
func TestVerifySignatureOverTheWire(t *testing.T) {
	var verr error
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		verr = VerifySignature(r, testAK, testSK, testNow, 15*time.Minute)
		got = r.Header.Clone()
		w.Write([]byte(`{"task_id":"t1"}`))
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	c := newClient(t, u.String(), Credentials{AK: testAK, SK: testSK, SecurityToken: testToken})
	if _, _, err := c.Show(t.Context(), "t1"); err != nil {
		t.Fatal(err)
	}
	if verr != nil {
		t.Fatalf("server rejected the signature: %v", verr)
	}
	a, _ := parseAuthorization(got.Get("Authorization"))
	for _, h := range []string{"x-sdk-date", "x-project-id", "x-security-token", "user-agent", "accept"} {
		if !strings.Contains(";"+a.signedHeaders+";", ";"+h+";") {
			t.Errorf("header %s not signed (SignedHeaders=%s)", h, a.signedHeaders)
		}
	}
	if got.Get("X-Project-Id") != "p1" {
		t.Errorf("X-Project-Id = %q", got.Get("X-Project-Id"))
	}
}
