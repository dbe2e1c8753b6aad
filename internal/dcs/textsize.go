package dcs

import (
	"fmt"
	"reflect"
	"strings"
)

// maxTextBytes caps each text field of a decoded task. The body cap
// (max_body_bytes) bounds a whole answer, which a list page of 1000 rows
// needs megabytes for; one row or detail object is about 2 KiB. A field
// past this cap (a 2 MiB description) would make a snapshot and its events
// larger than a NATS message may be, and the store would refuse them as if
// it were down: such an answer is a bad response, like a malformed one, and
// the task keeps its last good snapshot.
const maxTextBytes = 16 << 10

// checkText fails when a text field of t is longer than maxTextBytes,
// naming the field by its JSON path.
func checkText(t *Task) error {
	if path, n := longestText(reflect.ValueOf(t).Elem(), ""); n > maxTextBytes {
		return fmt.Errorf("%s: %d bytes, more than the %d a field of a task may hold", path, n, maxTextBytes)
	}
	return nil
}

// longestText returns the path and length of the longest string in v.
func longestText(v reflect.Value, prefix string) (path string, n int) {
	switch v.Kind() {
	case reflect.String:
		return prefix, v.Len()
	case reflect.Pointer:
		if !v.IsNil() {
			return longestText(v.Elem(), prefix)
		}
	case reflect.Slice:
		for i := range v.Len() {
			if p, m := longestText(v.Index(i), fmt.Sprintf("%s[%d]", prefix, i)); m > n {
				path, n = p, m
			}
		}
	case reflect.Struct:
		for i := range v.NumField() {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
			if prefix != "" {
				name = prefix + "." + name
			}
			if p, m := longestText(v.Field(i), name); m > n {
				path, n = p, m
			}
		}
	}
	return path, n
}
