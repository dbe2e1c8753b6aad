package dcs

import "testing"

func TestKeepNulls(t *testing.T) {
	prev := &Task{
		ID: "t1", Status: "RUNNING", TaskStatus: "EXCHANGING", BandwidthLimitMB: "100",
		Source:            Instance{Name: "src", TaskStatus: "RUNNING", DB: "0", ProxyMultiDB: true},
		Target:            Instance{Name: "dst", TaskStatus: "RUNNING"},
		BackupFiles:       &BackupFiles{BucketName: "b"},
		SupportedFeatures: []string{"x"},
	}
	cur := Task{ID: "t1", Status: "FULLMIGRATING", Source: Instance{Name: "src"}}
	KeepNulls(&cur, prev, []string{
		"task_status", "source_instance.task_status", "source_instance.db", "source_instance.proxy_multi_db",
		"target_instance", "backup_files", "supported_features", "no_such_field", "source_instance.nope",
	})
	if cur.Status != "FULLMIGRATING" {
		t.Errorf("a field that was not null changed: status %q", cur.Status)
	}
	if cur.TaskStatus != "EXCHANGING" || cur.Source.TaskStatus != "RUNNING" || cur.Source.DB != "0" || !cur.Source.ProxyMultiDB {
		t.Errorf("null scalars not kept: %+v", cur)
	}
	if cur.Target.Name != "dst" || cur.BackupFiles == nil || len(cur.SupportedFeatures) != 1 {
		t.Errorf("null objects not kept: %+v", cur)
	}
	if cur.BandwidthLimitMB != "" {
		t.Errorf("a field left out (not null) should read as empty, got %q", cur.BandwidthLimitMB)
	}

	first := Task{ID: "t1"}
	KeepNulls(&first, nil, []string{"status"})
	if first.Status != "" {
		t.Errorf("without a previous snapshot nothing can be kept: %q", first.Status)
	}
}
