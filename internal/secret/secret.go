// Package secret holds the Secret type: credentials that print, format and
// marshal as "<secret>" so that they cannot leak through logs, errors or dumps.
package secret

import (
	"encoding/json"
	"fmt"
	"io"
)

const redacted = "<secret>"

// Secret holds a credential (AK/SK, token, webhook URL). It prints, formats and
// marshals as "<secret>", so it cannot leak through a log line, an error text
// or a dumped config; Reveal is the one way to read it, at the point of use.
type Secret string

// Reveal returns the secret's value, for the one place that needs it.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString implements fmt.GoStringer, so %#v redacts too.
func (s Secret) GoString() string { return s.String() }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalText implements encoding.TextMarshaler (zerolog, maps, flags).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Format implements fmt.Formatter: every verb (%d and %x included, which
// would otherwise print the raw string) writes the redacted form.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }
