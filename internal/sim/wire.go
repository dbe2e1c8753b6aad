package sim

import "time"

// detailWire is the detail object with the document's field names. Fields in
// the document's example are always present; the others only when set, like
// the example, which leaves them out.
type detailWire struct {
	TaskID                string           `json:"task_id"`
	TaskName              string           `json:"task_name"`
	Description           string           `json:"description,omitempty"`
	Status                string           `json:"status"`
	MigrationType         string           `json:"migration_type"`
	MigrationMethod       string           `json:"migration_method,omitempty"`
	ECSTenantPrivateIP    string           `json:"ecs_tenant_private_ip,omitempty"`
	BackupFiles           *backupFilesWire `json:"backup_files,omitempty"`
	NetworkType           string           `json:"network_type"`
	SourceInstance        *instanceWire    `json:"source_instance,omitempty"`
	TargetInstance        *instanceWire    `json:"target_instance,omitempty"`
	CreatedAt             string           `json:"created_at"`
	UpdatedAt             string           `json:"updated_at"`
	ReleasedAt            string           `json:"released_at,omitempty"`
	Version               string           `json:"version,omitempty"`
	ResumeMode            string           `json:"resume_mode,omitempty"`
	SupportedFeatures     []string         `json:"supported_features,omitempty"`
	TenantVPCID           string           `json:"tenant_vpc_id,omitempty"`
	TenantSubnetID        string           `json:"tenant_subnet_id,omitempty"`
	TenantSecurityGroupID string           `json:"tenant_security_group_id,omitempty"`
	BandwidthLimitMB      string           `json:"bandwidth_limit_mb,omitempty"`
	TaskStatus            string           `json:"task_status"`
}

// instanceWire is source_instance / target_instance, password in plain text
// as the real API sends it.
type instanceWire struct {
	Addrs        string `json:"addrs"`
	ID           string `json:"id"`
	Name         string `json:"name"`
	IP           string `json:"ip"`
	Port         string `json:"port"`
	ProxyMultiDB bool   `json:"proxy_multi_db"`
	Password     string `json:"password,omitempty"`
	TaskStatus   string `json:"task_status"`
	DB           string `json:"db"`
}

type backupFilesWire struct {
	FileSource string           `json:"file_source,omitempty"`
	BucketName string           `json:"bucket_name,omitempty"`
	Files      []backupFileWire `json:"files,omitempty"`
	BackupID   string           `json:"backup_id,omitempty"`
}

type backupFileWire struct {
	FileName string `json:"file_name"`
	Size     string `json:"size"`
	UpdateAt string `json:"update_at"`
}

// listWire is the list answer; the row fields are those of the SDK's
// MigrationTaskList model: no passwords, no task_status, no updated_at.
type listWire struct {
	Count          int       `json:"count"`
	MigrationTasks []rowWire `json:"migration_tasks"`
}

type rowWire struct {
	TaskID                 string   `json:"task_id"`
	TaskName               string   `json:"task_name"`
	Status                 string   `json:"status"`
	MigrationType          string   `json:"migration_type,omitempty"`
	MigrationMethod        string   `json:"migration_method,omitempty"`
	ECSTenantPrivateIP     string   `json:"ecs_tenant_private_ip,omitempty"`
	DataSource             string   `json:"data_source,omitempty"`
	SourceInstanceName     string   `json:"source_instance_name,omitempty"`
	SourceInstanceID       string   `json:"source_instance_id,omitempty"`
	TargetInstanceAddrs    string   `json:"target_instance_addrs,omitempty"`
	TargetInstanceName     string   `json:"target_instance_name,omitempty"`
	TargetInstanceID       string   `json:"target_instance_id,omitempty"`
	CreatedAt              string   `json:"created_at"`
	Description            string   `json:"description,omitempty"`
	SourceInstanceStatus   string   `json:"source_instance_status,omitempty"`
	TargetInstanceStatus   string   `json:"target_instance_status,omitempty"`
	SourceInstanceSubnetID string   `json:"source_instance_subnet_id,omitempty"`
	TargetInstanceSubnetID string   `json:"target_instance_subnet_id,omitempty"`
	SourceInstanceSpecCode string   `json:"source_instance_spec_code,omitempty"`
	TargetInstanceSpecCode string   `json:"target_instance_spec_code,omitempty"`
	ErrorMessage           string   `json:"error_message,omitempty"`
	ReleasedAt             string   `json:"released_at,omitempty"`
	Version                string   `json:"version,omitempty"`
	ResumeMode             string   `json:"resume_mode,omitempty"`
	SupportedFeatures      []string `json:"supported_features,omitempty"`
}

// dcsError is the DCS service's error body; error_ext_msg is always null.
type dcsError struct {
	ErrorCode   string  `json:"error_code"`
	ErrorMsg    string  `json:"error_msg"`
	ErrorExtMsg *string `json:"error_ext_msg"`
}

// gatewayError is the API gateway's error body (APIGW.*), with its request id.
type gatewayError struct {
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
	RequestID string `json:"request_id"`
}

// The error answers. DCS.4133, DCS.5000, APIGW.0301 and APIGW.0308 are the
// real codes and texts; DCS.4070 is the real code with our text. DCS.4000
// (bad project or paging parameter), DCS.4040 (no such path), DCS.4050
// (method) and DCS.5030 (shutting down) are the simulator's own: clients
// must classify them by HTTP status, as they would any unknown code.
func errTaskNotFound() dcsError {
	return dcsError{ErrorCode: "DCS.4133", ErrorMsg: "Migration task not found."}
}

func errBadTaskID() dcsError {
	return dcsError{ErrorCode: "DCS.4070", ErrorMsg: "Invalid task ID format."}
}

func errInternal() dcsError {
	return dcsError{ErrorCode: "DCS.5000", ErrorMsg: "Internal service error."}
}

// errUnavailable answers a request cut short by the server's shutdown.
func errUnavailable() dcsError {
	return dcsError{ErrorCode: "DCS.5030", ErrorMsg: "Service unavailable: the server is shutting down."}
}

func errBadParam(msg string) dcsError { return dcsError{ErrorCode: "DCS.4000", ErrorMsg: msg} }

func errNotFound(path string) dcsError {
	return dcsError{ErrorCode: "DCS.4040", ErrorMsg: "The requested resource is not found: " + path}
}

func errMethod(method string) dcsError {
	return dcsError{ErrorCode: "DCS.4050", ErrorMsg: "Method not allowed: " + method}
}

const (
	msgAuthFailed = "Incorrect IAM authentication information: verify aksk signature fail"
	msgThrottled  = "The throttling threshold has been reached: policy user over ratelimit,limit:200,time:1 second"
)

// render builds the detail object of t at elapsed.
func (t *simTask) render(elapsed time.Duration, start time.Time) *detailWire {
	sp, st := t.spec, t.stateAt(elapsed)
	d := &detailWire{
		TaskID:                sp.ID,
		TaskName:              sp.Name,
		Description:           st.description,
		Status:                st.status,
		MigrationType:         sp.MigrationType,
		MigrationMethod:       sp.MigrationMethod,
		ECSTenantPrivateIP:    sp.ECSTenantPrivateIP,
		NetworkType:           sp.NetworkType,
		CreatedAt:             t.createdAt,
		UpdatedAt:             start.Add(st.updated).UTC().Format(wireTime),
		Version:               sp.Version,
		ResumeMode:            sp.ResumeMode,
		SupportedFeatures:     sp.SupportedFeatures,
		TenantVPCID:           sp.TenantVPCID,
		TenantSubnetID:        sp.TenantSubnetID,
		TenantSecurityGroupID: sp.TenantSecurityGroupID,
		BandwidthLimitMB:      st.bandwidthLimitMB,
		TaskStatus:            st.taskStatus,
		SourceInstance:        instance(sp.Source, st.srcTaskStatus),
		TargetInstance:        instance(sp.Target, st.dstTaskStatus),
	}
	if st.isReleased {
		d.ReleasedAt = start.Add(st.released).UTC().Format(wireTime)
	}
	if b := sp.BackupFiles; b != nil {
		bw := &backupFilesWire{FileSource: b.FileSource, BucketName: b.BucketName, BackupID: b.BackupID}
		for _, f := range b.Files {
			bw.Files = append(bw.Files, backupFileWire{FileName: f.Name, Size: f.Size, UpdateAt: f.UpdateAt})
		}
		d.BackupFiles = bw
	}
	return d
}

func instance(in *InstanceSpec, taskStatus string) *instanceWire {
	if in == nil {
		return nil
	}
	return &instanceWire{
		Addrs: in.Addrs, ID: in.ID, Name: in.Name, IP: in.IP, Port: in.Port,
		ProxyMultiDB: in.ProxyMultiDB, Password: in.Password, TaskStatus: taskStatus, DB: in.DB,
	}
}

// row builds the list row of t at elapsed.
func (t *simTask) row(elapsed time.Duration, start time.Time) rowWire {
	sp, st := t.spec, t.stateAt(elapsed)
	r := rowWire{
		TaskID:             sp.ID,
		TaskName:           sp.Name,
		Status:             st.status,
		MigrationType:      sp.MigrationType,
		MigrationMethod:    sp.MigrationMethod,
		ECSTenantPrivateIP: sp.ECSTenantPrivateIP,
		CreatedAt:          t.createdAt,
		Description:        st.description,
		ErrorMessage:       st.errorMessage,
		Version:            sp.Version,
		ResumeMode:         sp.ResumeMode,
		SupportedFeatures:  sp.SupportedFeatures,
	}
	if st.isReleased {
		r.ReleasedAt = start.Add(st.released).UTC().Format(wireTime)
	}
	// data_source is "ip:port or bucket name" in the SDK's words.
	if s := sp.Source; s != nil {
		r.DataSource = s.Addrs
		r.SourceInstanceName, r.SourceInstanceID = s.Name, s.ID
		r.SourceInstanceStatus, r.SourceInstanceSubnetID, r.SourceInstanceSpecCode = s.Status, s.SubnetID, s.SpecCode
	}
	if r.DataSource == "" && sp.BackupFiles != nil {
		r.DataSource = sp.BackupFiles.BucketName
	}
	if d := sp.Target; d != nil {
		r.TargetInstanceAddrs, r.TargetInstanceName, r.TargetInstanceID = d.Addrs, d.Name, d.ID
		r.TargetInstanceStatus, r.TargetInstanceSubnetID, r.TargetInstanceSpecCode = d.Status, d.SubnetID, d.SpecCode
	}
	return r
}

// answer is a response before the faults that rewrite bodies get to it.
type answer struct {
	status int
	body   any
}
