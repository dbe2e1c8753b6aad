package secret

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestSecretNeverPrints(t *testing.T) {
	const planted = "PLANTED-value-123"
	s := Secret(planted)
	type holder struct {
		Token Secret `json:"token" yaml:"token"`
		Ptr   *Secret
	}
	h := holder{Token: s, Ptr: &s}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%T %v"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, h))
	}
	j, _ := json.Marshal(h)
	y, _ := yaml.Marshal(h)
	tx, _ := s.MarshalText()
	outs = append(outs, string(j), string(y), string(tx), fmt.Sprint(s), fmt.Sprintln(h))
	for _, o := range outs {
		if strings.Contains(o, planted) {
			t.Errorf("output %q holds the secret", o)
		}
	}
	if s.Reveal() != planted {
		t.Errorf("Reveal = %q", s.Reveal())
	}
	if Secret("").String() != "" {
		t.Error("an empty secret should print empty, so that 'not set' is visible")
	}
}

func TestSecretDecodes(t *testing.T) {
	var h struct {
		Token Secret `json:"token" yaml:"token"`
	}
	if err := yaml.Unmarshal([]byte("token: abc"), &h); err != nil || h.Token.Reveal() != "abc" {
		t.Fatalf("yaml: %v %q", err, h.Token.Reveal())
	}
	if err := json.Unmarshal([]byte(`{"token":"def"}`), &h); err != nil || h.Token.Reveal() != "def" {
		t.Fatalf("json: %v %q", err, h.Token.Reveal())
	}
}

func TestURLCause(t *testing.T) {
	cause := errors.New("connection refused")
	raw := "https://hc-ping.com/SECRET-TOKEN-123"
	wrapped := fmt.Errorf("ping: %w", &url.Error{Op: "Get", URL: raw, Err: cause})
	if !strings.Contains(wrapped.Error(), "SECRET-TOKEN-123") {
		t.Fatalf("the test's error does not quote the URL: %v", wrapped)
	}
	got := URLCause(wrapped)
	if got != cause {
		t.Fatalf("URLCause = %v, want the cause", got)
	}
	plain := errors.New("no URL here")
	if URLCause(plain) != plain {
		t.Fatal("an error without a *url.Error must come back as it is")
	}
	if URLCause(nil) != nil {
		t.Fatal("URLCause(nil) must be nil")
	}
}
