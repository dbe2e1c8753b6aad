package app

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"golang.org/x/time/rate"

	"github.com/dcs-watcher/watcher/internal/config"
	"github.com/dcs-watcher/watcher/internal/dcs"
)

// clientsFor resolves the account's credentials once and builds each
// watched project's DCS client; the single project of dcs.region without a
// dcs.project_id gets its id from IAM.
func clientsFor(ctx context.Context, cfg config.Config, o Options) ([]config.Project, []*dcs.Client, error) {
	source, err := credentials(ctx, cfg, o)
	if err != nil {
		return nil, nil, err
	}
	projects := cfg.Projects()
	// The API throttles per account and every project is signed with the
	// same credentials: one budget for all, each project's own cap inside it.
	account := limiter(cfg.DCS.RateLimit)
	clients := make([]*dcs.Client, len(projects))
	for i, p := range projects {
		if p.ProjectID == "" {
			if p.ProjectID, err = lookupProject(ctx, cfg, source, o); err != nil {
				return nil, nil, err
			}
			projects[i].ProjectID = p.ProjectID
			if projects[i].Name == "" {
				projects[i].Name = p.ProjectID
			}
		}
		c, err := dcsClient(cfg, p, source, account, o)
		if err != nil {
			return nil, nil, fmt.Errorf("%s (project %s): %w", p.Key, p.Name, err)
		}
		clients[i] = c
	}
	return projects, clients, nil
}

// credentials resolves where the DCS credentials come from (dcs.credentials:
// the config, the environment, the profile file or the ECS metadata
// service), once for every project: they are one account's. It logs the
// source, never a credential.
func credentials(ctx context.Context, cfg config.Config, o Options) (dcs.CredentialSource, error) {
	d := cfg.DCS
	static := dcs.Credentials{AK: d.AK, SK: d.SK, SecurityToken: d.SecurityToken, AuthToken: d.AuthToken}
	var (
		source dcs.CredentialSource = dcs.Static(static)
		from                        = dcs.SourceConfig
	)
	// A local simulator runs unauthenticated unless the config says
	// otherwise: auto must not sign calls to it with a profile's keys.
	if cfg.LocalOnly() && d.Credentials == config.CredentialsAuto && static.IsZero() {
		from = "none (a local simulator: calls are not signed)"
	} else if !(cfg.LocalOnly() && d.Credentials == config.CredentialsAuto) {
		var err error
		source, from, err = dcs.ResolveCredentials(ctx, dcs.ResolveOptions{
			Source: d.Credentials, Config: static, Getenv: getenv(o),
			Profile: d.Profile, ProfileFile: d.CredentialsFile,
			Metadata: dcs.MetadataOptions{Endpoint: d.MetadataEndpoint, Now: o.Now},
		})
		if err != nil {
			return nil, err
		}
	}
	if from == dcs.SourceConfig && credentialsFromEnv(getenv(o)) {
		// The variables were applied to the config as it loaded: say
		// where they really came from.
		from = dcs.SourceEnv
	}
	o.Logger.Info().Str("component", "dcs").Str("credentials", from).Msg("dcs credentials resolved")
	return source, nil
}

// credentialsFromEnv says whether a credential variable is set: it won
// over the file's dcs.ak, dcs.sk, dcs.security_token or dcs.auth_token.
func credentialsFromEnv(getenv func(string) string) bool {
	for _, v := range []string{config.EnvAK, config.EnvSK, config.EnvSecurityToken, config.EnvDCSAuthToken} {
		if strings.TrimSpace(getenv(v)) != "" {
			return true
		}
	}
	return false
}

// lookupProject finds the project id of dcs.region in IAM, once, and logs it.
func lookupProject(ctx context.Context, cfg config.Config, source dcs.CredentialSource, o Options) (string, error) {
	d := cfg.DCS
	project, err := dcs.LookupProjectID(ctx, dcs.ProjectLookup{
		Endpoint: d.IAMEndpoint, Region: d.Region, Source: source,
		HTTPClient: &http.Client{Timeout: d.Timeout}, Now: o.Now,
	})
	if err != nil {
		return "", err
	}
	o.Logger.Info().Str("component", "dcs").Str("project_id", project).Str("region", d.Region).Msg("project id looked up in IAM")
	return project, nil
}

func getenv(o Options) func(string) string {
	if o.Getenv == nil {
		return func(string) string { return "" }
	}
	return o.Getenv
}

// dcsClient is the DCS client of one project: the account's credentials
// and call budget, the project's own endpoint and cap.
func dcsClient(cfg config.Config, p config.Project, source dcs.CredentialSource, account *rate.Limiter, o Options) (*dcs.Client, error) {
	endpoint := p.Endpoint
	if endpoint == "" {
		endpoint = dcs.EndpointForRegion(p.Region, getenv(o))
	}
	d := cfg.DCS
	client, err := dcs.New(dcs.Options{
		Endpoint:  endpoint,
		ProjectID: p.ProjectID,
		Source:    source,
		// Idle connections for every detail call in flight and a list page.
		HTTPClient:     &http.Client{Timeout: d.Timeout, Transport: dcs.Transport(d.Concurrency + 1)},
		MaxBodyBytes:   d.MaxBodyBytes,
		UserAgent:      "dcs-watcher",
		Now:            o.Now,
		Limiter:        limiter(p.RateLimit),
		AccountLimiter: account,
		// The list's pages, once the first has told how many, at the pace
		// of the detail calls.
		ListConcurrency: d.Concurrency,
		Observe:         o.DCSCalled,
		// The fleet's soft memory limit is set from the first page's
		// count, before the rest of a cold start's list is decoded.
		Announced: func(n int) { o.Fleet.Listed(p.ProjectID, n) },
	})
	if err != nil {
		return nil, fmt.Errorf("dcs client: %w", err)
	}
	return client, nil
}

// limiter paces API calls at perSecond, with bursts of up to one second's
// worth; nil (no limit) for 0.
func limiter(perSecond float64) *rate.Limiter {
	if perSecond <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(perSecond), max(1, int(perSecond)))
}
