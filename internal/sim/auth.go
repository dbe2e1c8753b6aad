package sim

import (
	"crypto/subtle"
	"errors"
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

// SetKeys replaces the accepted keys, as a rotation of the temporary
// credentials does: from then on only the new ones verify.
func (s *Server) SetKeys(k Keys) { s.keys.Store(&k) }

func (k *Keys) checks() bool { return k.AK != "" && k.SK != "" || k.AuthToken != "" }

// verify accepts an X-Auth-Token equal to AuthToken, else a signature with
// AK/SK that carries SecurityToken when there is one.
func (k *Keys) verify(r *http.Request, now time.Time) error {
	if tok := r.Header.Get("X-Auth-Token"); tok != "" && r.Header.Get("Authorization") == "" {
		if k.AuthToken == "" || subtle.ConstantTimeCompare([]byte(tok), []byte(k.AuthToken)) != 1 {
			return errors.New("unknown auth token")
		}
		return nil
	}
	if k.AK == "" || k.SK == "" {
		return errors.New("no signature accepted")
	}
	if k.SecurityToken != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("X-Security-Token")), []byte(k.SecurityToken)) != 1 {
		return errors.New("security token missing or wrong")
	}
	return verifySignature(r, k.AK, k.SK, now)
}
