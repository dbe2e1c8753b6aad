package state

import (
	"reflect"
	"strconv"
	"testing"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// fill sets every string field of v (recursively through structs) to a
// distinct value and every bool to true, and counts the strings.
func fill(v reflect.Value, n *int) {
	switch v.Kind() {
	case reflect.String:
		*n++
		v.SetString("v" + strconv.Itoa(*n) + "é")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), n)
		}
	}
}

func TestPackKeepsEveryField(t *testing.T) {
	var full dcs.Task
	n := 0
	fill(reflect.ValueOf(&full).Elem(), &n)
	if n != len(dcs.StringFields(&full)) {
		t.Fatalf("dcs.Task has %d string fields, StringFields lists %d: a field would be lost in the cache", n, len(dcs.StringFields(&full)))
	}
	full.SupportedFeatures = []string{"a", "b"}
	full.BackupFiles = &dcs.BackupFiles{BucketName: "b"}
	long := dcs.Task{ID: "t", ErrorMessage: string(make([]byte, 70000))}
	for name, in := range map[string]dcs.Task{"full": full, "empty": {}, "row": {ID: "id", Status: "RUNNING"}, "long": long} {
		t.Run(name, func(t *testing.T) {
			p := pack(&in)
			got := p.unpack()
			if !reflect.DeepEqual(*got, in) {
				t.Fatalf("unpacked %+v, want %+v", *got, in)
			}
			got.Name = "changed"
			if again := p.unpack(); again.Name != in.Name {
				t.Fatal("a change to an unpacked task reached the packed form")
			}
		})
	}
	if pack(nil).unpack() != nil {
		t.Fatal("nil task packed and unpacked is not nil")
	}
}
