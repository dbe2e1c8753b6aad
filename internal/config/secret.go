package config

import "github.com/dcs-watcher/watcher/internal/secret"

// Secret is the credential type of the config (AK/SK, tokens, webhook URLs):
// it prints and marshals as "<secret>". It lives in package secret so that
// low-level packages (dcs) can use it without importing the config.
type Secret = secret.Secret
