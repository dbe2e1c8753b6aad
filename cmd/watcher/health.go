package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/dcs-watcher/watcher/internal/config"
)

// cmdHealth asks a running watcher's /healthz: exit 0 when it answers 200.
// It is the container image's health check, which has no shell nor curl.
// With http.tls_cert_file it speaks https and trusts that certificate (the
// one the listener serves, whatever names it holds: the check dials the
// loopback) besides the system's roots. /healthz is never behind basic
// auth, so no password is needed.
func cmdHealth(ctx context.Context, env cmdEnv, args []string) error {
	fs := newFlags("health", env)
	path := fs.String("c", "watcher.yaml", "configuration file (its http.listen, http.tls_cert_file)")
	addr := fs.String("addr", "", "host:port of the watcher's HTTP server (default: http.listen of the config)")
	https := fs.Bool("https", false, "with --addr: the server speaks TLS (its certificate checked against the system's roots)")
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	target, certFile := *addr, ""
	if target == "" {
		cfg, err := config.LoadSections(*path, env.getenv, config.SectionHTTP)
		if err != nil {
			return usageError{err}
		}
		if cfg.HTTP.Listen == "" {
			return usageError{errors.New("http.listen: not set, so there is no /healthz to ask (or give --addr)")}
		}
		target, certFile = cfg.HTTP.Listen, cfg.HTTP.TLSCertFile
	}
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return usageError{fmt.Errorf("address %q: %w", target, err)}
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1" // listening on every address: ask the loopback one
	}
	scheme, client := "http", &http.Client{}
	if certFile != "" || *https {
		tc, err := healthTLS(certFile, host)
		if err != nil {
			return usageError{err}
		}
		scheme, client = "https", &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	url := scheme + "://" + net.JoinHostPort(host, port) + "/healthz"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("health: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health: %s answered HTTP %d", url, resp.StatusCode)
	}
	fmt.Fprintln(env.stdout, "healthy")
	return nil
}

// healthTLS trusts the server when it presents the certificate of certFile
// (the listener's own), or a chain the system's roots verify for host.
func healthTLS(certFile, host string) (*tls.Config, error) {
	var own [][]byte
	if certFile != "" {
		b, err := os.ReadFile(certFile)
		if err != nil {
			return nil, fmt.Errorf("http.tls_cert_file: %w", err)
		}
		for block, rest := pem.Decode(b); block != nil; block, rest = pem.Decode(rest) {
			if block.Type == "CERTIFICATE" {
				own = append(own, block.Bytes)
			}
		}
		if len(own) == 0 {
			return nil, fmt.Errorf("http.tls_cert_file %s: no PEM certificate in it", certFile)
		}
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		// The standard check would ask the certificate to name the
		// loopback address; VerifyConnection does the checking instead.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the server presented no certificate")
			}
			leaf := cs.PeerCertificates[0]
			for _, der := range own {
				if bytes.Equal(der, leaf.Raw) {
					return nil
				}
			}
			inter := x509.NewCertPool()
			for _, c := range cs.PeerCertificates[1:] {
				inter.AddCert(c)
			}
			_, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Intermediates: inter})
			return err
		},
	}, nil
}
