package kvkey

import "testing"

func TestToken(t *testing.T) {
	for in, want := range map[string]string{
		"":                                 "_",
		"0b5e7c3f9d2a4e6b8c1d3f5a7b9e2c4d": "0b5e7c3f9d2a4e6b8c1d3f5a7b9e2c4d",
		"cn-north-4":                       "cn-north-4",
		"a.b c*d>e/f":                      "a_b_c_d_e_f",
		"host-12-ab=":                      "host-12-ab=",
		"añb":                              "a_b",
	} {
		if got := Token(in); got != want {
			t.Errorf("Token(%q) = %q, want %q", in, got, want)
		}
	}
}
