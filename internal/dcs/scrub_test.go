package dcs

import (
	"strings"
	"testing"
)

func TestScrubSecrets(t *testing.T) {
	tests := []struct {
		name, in, want string
		planted        string // must be gone from the output; "" when nothing is secret
	}{
		{"key=value", "connect failed: password=Hunter2Pw! host=10.0.0.1",
			"connect failed: password=<secret> host=10.0.0.1", "Hunter2Pw!"},
		{"pwd colon", "pwd: s3cr3t-Pw, retrying", "pwd: <secret>, retrying", "s3cr3t-Pw"},
		{"JSON field", `config {"addr":"10.0.0.1:6379","password":"Js0n-Pw\"x","db":0}`,
			`config {"addr":"10.0.0.1:6379","password":"<secret>","db":0}`, `Js0n-Pw`},
		{"JSON field with spaces", `{"Password" : "SpacedPw9"}`, `{"Password" : "<secret>"}`, "SpacedPw9"},
		{"single quotes", "passwd='Quoted Pw 7'", "passwd='<secret>'", "Quoted Pw 7"},
		{"requirepass", "CONFIG SET requirepass Req-Pass-42 failed", "CONFIG SET requirepass <secret> failed", "Req-Pass-42"},
		{"masterauth", "masterauth \"Master Pw\"", "masterauth \"<secret>\"", "Master Pw"},
		{"redis-cli flag", "redis-cli -h 10.0.0.1 -a CliPw123 ping", "redis-cli -h 10.0.0.1 -a <secret> ping", "CliPw123"},
		{"AUTH one argument", "the source refused AUTH AuthPw-1 and closed", "the source refused AUTH <secret> and closed", "AuthPw-1"},
		// Which of two words ends the command cannot be told: both go.
		{"AUTH user and password", "sent AUTH default AclPw-2", "sent AUTH <secret> <secret>", "AclPw-2"},
		{"AUTH then more words", "AUTH AuthPw-7 twice", "AUTH <secret> <secret>", "AuthPw-7"},
		{"AUTH in quotes", `command "AUTH QPw-3" refused`, `command "AUTH <secret>" refused`, "QPw-3"},
		{"redis URL", "dial redis://admin:UrlPw-4@10.0.0.1:6379/0: timeout", "dial redis://admin:<secret>@10.0.0.1:6379/0: timeout", "UrlPw-4"},
		{"redis URL without user", "rediss://:UrlPw-5@cache.local", "rediss://:<secret>@cache.local", "UrlPw-5"},
		{"URL password with @", "redis://u:p@ss-6@host", "redis://u:<secret>@host", "ss-6"},
		{"access key", "signature of access key AKPLANTEDQWERTY0001 does not match",
			"signature of access key <secret> does not match", "AKPLANTEDQWERTY0001"},
		{"secret key assignment", "sk=SKplantedSecretKey0002;", "sk=<secret>;", "SKplantedSecretKey0002"},
		{"token after is", "the token is TOKplantedSecurityToken0003.", "the token is <secret>.", "TOKplantedSecurityToken0003"},
		{"hex secret", "secret 9f86d081884c7d659a2feaa0c55ad015 rejected", "secret <secret> rejected", "9f86d081884c7d659a2feaa0c55ad015"},
		{"two in one line", "password=A1pw1 and pwd=B2pw2", "password=<secret> and pwd=<secret>", "A1pw1"},

		// Nothing secret: the text must come back as it was.
		{"ordinary message", "Full migration finished: 1024 keys copied in 12s.", "", ""},
		{"host and port", "Failed to connect to the source Redis 192.168.1.2:6379: connection timed out.", "", ""},
		{"URL without password", "GET https://dcs.cn-north-4.myhuaweicloud.com:443/v2/p1 failed", "", ""},
		{"task id", "task a276c1ffa0a54c2597fc824b917db317 failed", "", ""},
		{"a Redis key", "key orders:20240101000000001 is too big (600 MB), skipped", "", ""},
		{"AUTH and a word about it", "AUTH failed: invalid username-password pair", "", ""},
		{"NOAUTH", "The source Redis refused the SYNC command: NOAUTH Authentication required.", "", ""},
		{"password as a word", "invalid password for the target instance", "", ""},
		{"password_set", `"password_set":true`, "", ""},
		{"short word after key", "key count mismatch after sync", "", ""},
		{"empty", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.want
			if want == "" {
				want = tt.in
			}
			got := ScrubSecrets(tt.in)
			if got != want {
				t.Errorf("ScrubSecrets(%q)\n got %q\nwant %q", tt.in, got, want)
			}
			if tt.planted != "" && strings.Contains(got, tt.planted) {
				t.Errorf("output %q still holds %q", got, tt.planted)
			}
			if again := ScrubSecrets(got); again != got {
				t.Errorf("not idempotent: %q -> %q", got, again)
			}
		})
	}
}
