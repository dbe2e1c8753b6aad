package dcs

import (
	"bytes"
	"reflect"
	"testing"
)

// plainBodies are answers as the document writes them: the fast path reads
// them, and must read them exactly as the generic walk does.
var plainBodies = []string{
	exampleResponse,
	`{"task_id":"t1","status":"MIGRATING","supported_features":[],"backup_files":{"file_source":"obs","bucket_name":"b","files":[{"file_name":"a.rdb","size":"1024","update_at":"2024-01-02 03:04:05"}]},"target_instance":{"id":"i","name":"n","addrs":"10.0.0.1:6379","password":"x","proxy_multi_db":true}}`,
	`{"task_id":"t2","task_status":"EXCHANGING","supported_features":["a","b"],"released_at":"2024/01/02 03:04:05","description":"d \"quoted\" \u00e9"}`,
}

var plainLists = []string{
	`{"count":2,"migration_tasks":[{"task_id":"a","task_name":"n","status":"SUCCESS","data_source":"1.2.3.4:6379","source_instance_status":"RUNNING","target_instance_id":"t","target_instance_addrs":"5.6.7.8:6379","error_message":"e","supported_features":["x"]},{"task_id":"b","source_instance_addrs":"9.9.9.9:1","data_source":"ignored"}]}`,
	`{"migration_tasks":[]}`,
}

// TestFastPathMatchesGenericWalk: for plain answers the fast path gives
// the same Task as the generic walk; other answers are left to the walk.
func TestFastPathMatchesGenericWalk(t *testing.T) {
	for _, body := range plainBodies {
		fast, ok := fastDetailTask([]byte(body))
		if !ok {
			t.Errorf("fast path refused a plain answer: %s", body)
			continue
		}
		slow, _, err := decodeDetail([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Errorf("fast path differs from the generic walk:\nfast %#v\nslow %#v", fast, slow)
		}
	}
	for _, body := range plainLists {
		fast, fc, ok := fastListRows([]byte(body))
		if !ok {
			t.Errorf("fast path refused a plain list: %s", body)
			continue
		}
		slow, sc, err := genericList([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if fc != sc || !reflect.DeepEqual(fast, slow) {
			t.Errorf("fast list differs from the generic walk:\nfast %d %#v\nslow %d %#v", fc, fast, sc, slow)
		}
	}
	for _, body := range []string{
		`{"task_id":"t","status":null}`,                   // a null keeps the previous value: the walk notes it
		`{"task_id":"t","source_instance":{"port":6379}}`, // a number where a string is documented
		`{"task_id":"t","source_instance":"s"}`,           // a wrong shape, named by the walk
		`{"task_id":" "}`,                                 // no id
		`{"task_id":"t"} trailing`,                        // data after the value
		`{"task_id":"t","target_instance":{"proxy_multi_db":"1"}}`,
	} {
		if _, ok := fastDetailTask([]byte(body)); ok {
			t.Errorf("fast path took %s; the generic walk must read it", body)
		}
	}
	for _, body := range []string{`{"count":"2","migration_tasks":[]}`, `{"count":-1}`, `{"migration_tasks":[{"task_id":""}]}`} {
		if _, _, ok := fastListRows([]byte(body)); ok {
			t.Errorf("fast path took the list %s", body)
		}
	}
}

// FuzzFastPath: whatever the fast path accepts, the generic walk reads the
// same (keys in other case aside: encoding/json matches them anyway).
func FuzzFastPath(f *testing.F) {
	for _, b := range plainBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := fastDetailTask(body)
		if !ok || !bytes.Equal(body, bytes.ToLower(body)) {
			return
		}
		slow, _, err := decodeDetail(body)
		if err != nil {
			t.Fatalf("fast path took a body the walk refuses (%v): %s", err, body)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("fast path differs:\nfast %#v\nslow %#v", fast, slow)
		}
	})
}
