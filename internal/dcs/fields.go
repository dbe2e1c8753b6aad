package dcs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The API documents every value as a string but sends numbers now and then,
// may leave out or null any field, and returns Redis passwords in plain text.
// The SDK's typed models fail on the first number where a string is
// documented, so bodies are read generically (json.Number keeps numbers
// exact) and walked field by field. Errors name the field path and the JSON
// type found, never a value: a value could be a password.

// decodeError says which field had the wrong shape.
type decodeError struct {
	Path string // e.g. "source_instance.port"; "" for the body itself
	Want string
	Got  string
}

func (e *decodeError) Error() string {
	where := e.Path
	if where == "" {
		where = "body"
	}
	return fmt.Sprintf("%s: want %s, got %s", where, e.Want, e.Got)
}

// parseObject reads a body that must be one JSON object.
func parseObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("body is not valid JSON: %s", jsonErrorText(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("body has data after the JSON value")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &decodeError{Want: "object", Got: jsonType(v)}
	}
	return m, nil
}

// jsonErrorText describes a syntax error by position only: encoding/json's
// messages can quote a piece of the input.
func jsonErrorText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return "syntax error at byte " + strconv.FormatInt(se.Offset, 10)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "unexpected end of input"
	}
	return "malformed"
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "unknown"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fields reads the fields of one object. The first error anywhere in the
// body is kept in err, shared by the nested objects, so that a decoder reads
// like a list of assignments and is checked once at the end.
type fields struct {
	m    map[string]any
	path string
	err  *error
	// nulls collects the paths of fields sent as an explicit null.
	nulls *[]string
}

func newFields(m map[string]any) *fields { return &fields{m: m, err: new(error), nulls: new([]string)} }

func (f *fields) child(m map[string]any, path string) *fields {
	return &fields{m: m, path: path, err: f.err, nulls: f.nulls}
}

// get returns the value of key, noting an explicit null.
func (f *fields) get(key string) any {
	v, present := f.m[key]
	if present && v == nil {
		*f.nulls = append(*f.nulls, join(f.path, key))
	}
	return v
}

// Err returns the first error seen.
func (f *fields) Err() error { return *f.err }

func (f *fields) setErr(err error) {
	if *f.err == nil && err != nil {
		*f.err = err
	}
}

func (f *fields) fail(key, want string, v any) {
	f.setErr(&decodeError{Path: join(f.path, key), Want: want, Got: jsonType(v)})
}

// str accepts a string, a number (its decimal text), a boolean, or null.
func (f *fields) str(key string) string {
	v := f.get(key)
	s, ok := scalarText(v)
	if !ok {
		f.fail(key, "string", v)
	}
	return s
}

// scalarText renders a JSON scalar as text; ok is false for an object or an
// array.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case json.Number:
		return numberText(x), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// boolean accepts true/false, "true"/"false" (any case), 0/1 and "0"/"1",
// "" and null (false).
func (f *fields) boolean(key string) bool {
	v := f.m[key]
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case json.Number:
		switch x.String() {
		case "0":
			return false
		case "1":
			return true
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "", "false", "0":
			return false
		case "true", "1":
			return true
		}
	}
	f.fail(key, "boolean", v)
	return false
}

// object returns the fields of a nested object, nil if null or missing.
func (f *fields) object(key string) *fields {
	v := f.get(key)
	switch x := v.(type) {
	case nil:
		return nil
	case map[string]any:
		return f.child(x, join(f.path, key))
	}
	f.fail(key, "object", v)
	return nil
}

// array returns the elements of a nested array, nil if null or missing.
func (f *fields) array(key string) []any {
	v := f.get(key)
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	f.fail(key, "array", v)
	return nil
}

// strList accepts an array of string-like values, or null. An empty array
// gives nil, like null: a Task then survives a JSON round trip (omitempty)
// unchanged, and comparing snapshots sees no difference between the two.
func (f *fields) strList(key string) []string {
	arr := f.array(key)
	if len(arr) == 0 {
		return nil
	}
	out := make([]string, 0, len(arr))
	for i, v := range arr {
		s, ok := scalarText(v)
		if !ok {
			f.setErr(&decodeError{Path: fmt.Sprintf("%s[%d]", join(f.path, key), i), Want: "string", Got: jsonType(v)})
			return nil
		}
		out = append(out, s)
	}
	return out
}

// elem returns element i of an array as an object.
func (f *fields) elem(key string, i int, v any) *fields {
	p := fmt.Sprintf("%s[%d]", join(f.path, key), i)
	m, ok := v.(map[string]any)
	if !ok {
		f.setErr(&decodeError{Path: p, Want: "object", Got: jsonType(v)})
		return nil
	}
	return f.child(m, p)
}

// numberText renders a JSON number as decimal text: integers as written,
// exponents expanded (1.048576e6 -> "1048576") where float64 holds them.
func numberText(n json.Number) string {
	s := n.String()
	if !strings.ContainsAny(s, "eE") {
		return s
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return s
}
