package sim_test

import (
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"

	"github.com/dcs-watcher/watcher/internal/sim"
)

// TestAcceptsOfficialSDKSigner signs with the official SDK's signer alone,
// the way the SDK's own HTTP client does (none of the watcher's signing
// code), and sends exactly the headers it signed: the simulator accepts the
// request, and refuses it once the SK is wrong.
func TestAcceptsOfficialSDKSigner(t *testing.T) {
	f := start(t, parse(t, fleet), sim.Options{AK: testAK, SK: testSK})
	f.clock.at(5 * time.Second)
	date := f.clock.Now().UTC().Format(signer.BasicDateFormat)

	send := func(sk string) int {
		t.Helper()
		sdkReq := request.NewHttpRequestBuilder().
			WithEndpoint(f.http.URL).
			WithPath(listPath("")).
			WithMethod(http.MethodGet).
			AddQueryParam("limit", reflect.ValueOf(5)).
			AddQueryParam("offset", reflect.ValueOf(0)).
			AddHeaderParam("X-Project-Id", project).
			AddHeaderParam(signer.HeaderXDate, date).
			Build()
		added, err := signer.Sign(sdkReq, testAK, sk)
		if err != nil {
			t.Fatalf("SDK signer: %v", err)
		}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, f.http.URL+listPath("?limit=5&offset=0"), nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range sdkReq.GetHeaderParams() {
			req.Header.Set(k, v)
		}
		for k, v := range added {
			req.Header.Set(k, v)
		}
		return do(t, req).status
	}
	if got := send(testSK); got != http.StatusOK {
		t.Fatalf("request signed by the SDK: HTTP %d, want 200", got)
	}
	if got := send(testSK + "-wrong"); got != http.StatusUnauthorized {
		t.Fatalf("request signed with a wrong SK: HTTP %d, want 401", got)
	}
}
