package httpserver

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"sync"

	"golang.org/x/crypto/bcrypt"
	"gopkg.in/yaml.v3"
)

// Users are the basic-auth users of the listener: name -> bcrypt hash.
type Users map[string][]byte

// usersFile is http.basic_auth_users_file, Prometheus' web config format.
type usersFile struct {
	BasicAuthUsers map[string]string `yaml:"basic_auth_users"`
}

// LoadUsers reads a users file: "basic_auth_users: {name: bcrypt-hash}".
// Every hash must be a bcrypt hash; the error names the user, never a
// hash.
func LoadUsers(path string) (Users, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("http: basic auth users: %w", err)
	}
	var f usersFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("http: basic auth users %s: %w", path, err)
	}
	if len(f.BasicAuthUsers) == 0 {
		return nil, fmt.Errorf("http: basic auth users %s: no user under basic_auth_users", path)
	}
	u := Users{}
	for name, hash := range f.BasicAuthUsers {
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("http: basic auth users %s: user %q: not a bcrypt hash", path, name)
		}
		u[name] = []byte(hash)
	}
	return u, nil
}

// dummyHash is compared when the user is unknown, so that a wrong name
// costs as long as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("no such user"), bcrypt.DefaultCost)

// basicAuth asks every request but open's paths for one of users. A
// successful check is remembered (by a hash of the credentials, up to
// maxCached) so that a page's requests do not each cost a bcrypt.
func basicAuth(users Users, open map[string]bool, next http.Handler) http.Handler {
	const maxCached = 256
	var mu sync.Mutex
	good := map[[32]byte]bool{}
	check := func(user, pass string) bool {
		key := sha256.Sum256([]byte(user + "\x00" + pass))
		mu.Lock()
		ok := good[key]
		mu.Unlock()
		if ok {
			return true
		}
		hash, known := users[user]
		if !known {
			hash = dummyHash
		}
		if bcrypt.CompareHashAndPassword(hash, []byte(pass)) != nil || !known {
			return false
		}
		mu.Lock()
		if len(good) >= maxCached {
			clear(good)
		}
		good[key] = true
		mu.Unlock()
		return true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if open[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		user, pass, ok := r.BasicAuth()
		if !ok || !check(user, pass) {
			w.Header().Set("WWW-Authenticate", `Basic realm="dcs-watcher", charset="UTF-8"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
