package sim

import (
	"net/http"
	"time"

	"github.com/dcs-watcher/watcher/internal/dcs"
)

// maxClockSkew is how far X-Sdk-Date may be from the server clock, as at the
// real API gateway.
const maxClockSkew = 15 * time.Minute

// verifySignature checks a request's SDK-HMAC-SHA256 signature the way the
// gateway does, with the same verifier the client package is tested against,
// so the simulator and the client cannot drift apart on the algorithm.
func verifySignature(r *http.Request, ak, sk string, now time.Time) error {
	return dcs.VerifySignature(r, ak, sk, now, maxClockSkew)
}
