// Package config loads the watcher's configuration: one YAML file decoded
// strictly (an unknown key is an error that names the key, its parent path
// and line), on top of Default, then overridden by a few environment
// variables (credentials, the project id and the NATS URL, so secrets need
// not live in the file), then checked by Validate, which reports every
// problem at once, each prefixed with its key path. Credentials are held in
// Secret, which prints and marshals as "<secret>", so a dumped Config or an
// error text never carries one. The environment is passed in as a getenv
// function, which keeps loading hermetic in tests.
package config
