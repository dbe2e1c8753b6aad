package config

import "math"

// validateProjects checks dcs.projects. A project id may appear once: its
// snapshots (<project>.<task>), its API record and its event subjects are
// keyed by it alone, so two entries of one project would overwrite each
// other's state whatever their region or filter.
func (c Config) validateProjects(p *problems) {
	d := c.DCS
	if d.ProjectID != "" {
		p.add("dcs.project_id", "set either dcs.project_id (or %s) or dcs.projects, not both", EnvProjectID)
	}
	ids, names := map[string]string{}, map[string]string{}
	for i, r := range c.Projects() {
		raw := d.Projects[i]
		switch {
		case r.ProjectID == "":
			p.add(r.Key+".project_id", "required")
		case !isToken(r.ProjectID, true):
			p.add(r.Key+".project_id", "invalid project id %q (letters, digits, - and _ only: it goes into URL paths and NATS subjects)", r.ProjectID)
		case ids[r.ProjectID] != "":
			p.add(r.Key+".project_id", "duplicate project id %q (also %s): a project is watched once, with one filter", r.ProjectID, ids[r.ProjectID])
		default:
			ids[r.ProjectID] = r.Key
		}
		switch {
		case raw.Name != "" && !isToken(raw.Name, true):
			p.add(r.Key+".name", "invalid name %q (letters, digits, - and _ only)", raw.Name)
		case r.Name != "" && names[r.Name] != "":
			p.add(r.Key+".name", "duplicate name %q (also %s)", r.Name, names[r.Name])
		case r.Name != "":
			names[r.Name] = r.Key
		}
		c.validateProjectPlace(p, r, raw)
		checkTaskIDs(p, r.Key+".task_ids", r.TaskIDs)
		if !r.Discover && len(r.TaskIDs) == 0 {
			p.add(r.Key, "nothing to watch: set %s.task_ids or %s.discover", r.Key, r.Key)
		}
		if !r.Discover && raw.NameFilter != "" {
			p.add(r.Key+".name_filter", "only used with discover: true")
		}
		switch {
		case r.RateLimit < 0 || math.IsNaN(r.RateLimit) || math.IsInf(r.RateLimit, 0):
			p.add(r.Key+".rate_limit", "must be 0 (only dcs.rate_limit) or a positive number of calls per second, got %v", r.RateLimit)
		case r.RateLimit > d.RateLimit && d.RateLimit > 0:
			p.add(r.Key+".rate_limit", "%v exceeds dcs.rate_limit %v, the account's budget it is a share of", r.RateLimit, d.RateLimit)
		}
	}
}

// validateProjectPlace checks where a project is: its region and endpoint.
func (c Config) validateProjectPlace(p *problems, r Project, raw ProjectConfig) {
	if raw.Endpoint != "" {
		checkHTTPURL(p, r.Key+".endpoint", raw.Endpoint)
	}
	switch {
	case raw.Region != "" && !isToken(raw.Region, false):
		p.add(r.Key+".region", "invalid region %q (want e.g. cn-north-4)", raw.Region)
	case r.Region == "" && r.Endpoint == "":
		p.add(r.Key+".region", "required unless %s.endpoint, dcs.region or dcs.endpoint is set", r.Key)
	}
}

// LocalOnly reports whether every project's endpoint is a local simulator
// (see isLocalSimulator): only then may credentials be left out and the
// rate exceed the API's ceiling.
func (c Config) LocalOnly() bool {
	for _, r := range c.Projects() {
		if !isLocalSimulator(r.Endpoint) {
			return false
		}
	}
	return true
}
