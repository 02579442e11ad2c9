package main

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// config is everything the server reads from its environment, read once at start.
type config struct {
	DatabaseURL    string
	DataDir        string
	Addr           string
	ClusterDir     string
	LogLevel       slog.Level
	LogFormat      string
	RequestTimeout time.Duration
	MaxComplexity  int
	MaxBodyBytes   int64
	DBMaxConns     int32
	Playground     bool
	// AutoImport imports missing boundary layers on start (CAREGRAPH_AUTO_IMPORT, default on).
	AutoImport bool
	// securityConfig holds the limits and session settings (config_security.go).
	securityConfig
	// datasetsConfig holds the dataset syncs' sources and schedules (config_datasets.go).
	datasetsConfig
	// odsConfig holds the NHS ODS sync's sources and schedule (config_ods.go).
	odsConfig
	// kpisConfig holds the KPI aggregation's schedule (config_kpis.go).
	kpisConfig
}

// loadConfig reads the environment through getenv; errors name the variable at fault.
func loadConfig(getenv func(string) string) (config, error) {
	c := config{
		DatabaseURL:    getenv("DATABASE_URL"),
		DataDir:        getenv("CAREGRAPH_DATA_DIR"),
		Addr:           orDefault(getenv("CAREGRAPH_ADDR"), ":8080"),
		ClusterDir:     orDefault(getenv("CAREGRAPH_PG_DIR"), ".data"),
		LogFormat:      orDefault(strings.ToLower(getenv("CAREGRAPH_LOG_FORMAT")), "text"),
		RequestTimeout: 30 * time.Second,
		MaxComplexity:  5000,
		MaxBodyBytes:   1 << 20,
		DBMaxConns:     16,
		Playground:     true,
		AutoImport:     true,
	}
	if c.DataDir == "" {
		c.DataDir = defaultDataDir()
	}
	if err := c.LogLevel.UnmarshalText([]byte(orDefault(getenv("CAREGRAPH_LOG_LEVEL"), "info"))); err != nil {
		return c, fmt.Errorf("CAREGRAPH_LOG_LEVEL: want debug, info, warn or error: %w", err)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return c, fmt.Errorf("CAREGRAPH_LOG_FORMAT: want text or json, got %q", c.LogFormat)
	}
	var err error
	if c.RequestTimeout, err = durationEnv(getenv, "CAREGRAPH_REQUEST_TIMEOUT", c.RequestTimeout); err != nil {
		return c, err
	}
	if c.MaxComplexity, err = intEnv(getenv, "CAREGRAPH_MAX_COMPLEXITY", c.MaxComplexity); err != nil {
		return c, err
	}
	conns, err := intEnv(getenv, "CAREGRAPH_DB_MAX_CONNS", int(c.DBMaxConns))
	if err != nil {
		return c, err
	}
	c.DBMaxConns = int32(conns)
	if c.Playground, err = boolEnv(getenv, "CAREGRAPH_PLAYGROUND", c.Playground); err != nil {
		return c, err
	}
	if c.AutoImport, err = boolEnv(getenv, "CAREGRAPH_AUTO_IMPORT", c.AutoImport); err != nil {
		return c, err
	}
	if err := c.loadSecurity(getenv); err != nil {
		return c, err
	}
	if err := c.loadDatasets(getenv); err != nil {
		return c, err
	}
	if err := c.loadODS(getenv); err != nil {
		return c, err
	}
	if err := c.loadKPIs(getenv); err != nil {
		return c, err
	}
	if c.DatabaseURL != "" {
		if _, err := url.Parse(c.DatabaseURL); err != nil && !strings.Contains(c.DatabaseURL, "=") {
			return c, fmt.Errorf("DATABASE_URL: not a URL or key=value connection string")
		}
	}
	return c, nil
}

// logValue lists the configuration for the start-up log, the database password masked.
func (c config) logAttrs() []any {
	db := "private cluster in " + c.ClusterDir
	if c.DatabaseURL != "" {
		db = redactURL(c.DatabaseURL)
	}
	return []any{"database", db, "data_dir", c.DataDir, "addr", c.Addr, "log_level", c.LogLevel.String(),
		"request_timeout", c.RequestTimeout.String(), "max_complexity", c.MaxComplexity, "playground", c.Playground,
		"max_depth", c.MaxDepth, "max_body_bytes", c.MaxBodyBytes, "rate_limit_ip", c.RateLimitIP.String(),
		"rate_limit_token", c.RateLimitToken.String(), "session_ttl", c.SessionTTL.String()}
}

// redactURL hides the password of a connection string, whichever form it takes.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		q := u.Query()
		if q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	fields := strings.Fields(s)
	for i, f := range fields {
		if strings.HasPrefix(strings.ToLower(f), "password=") {
			fields[i] = "password=xxxxx"
		}
	}
	return strings.Join(fields, " ")
}

// defaultDataDir is ../shared/data beside the repository when it exists, else shapefiles/.
func defaultDataDir() string {
	if root := repoRoot(); root != "" {
		shared := filepath.Join(root, "..", "shared", "data")
		if st, err := os.Stat(shared); err == nil && st.IsDir() {
			return filepath.Clean(shared)
		}
		return filepath.Join(root, "shapefiles")
	}
	return "shapefiles"
}

// repoRoot walks up from the working directory to the folder holding shapefiles/manifest.json.
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "shapefiles", "manifest.json")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func intEnv(getenv func(string) string, name string, def int) (int, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%s: want a positive whole number, got %q", name, v)
	}
	return n, nil
}

func durationEnv(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s: want a duration such as 30s, got %q", name, v)
	}
	return d, nil
}

func boolEnv(getenv func(string) string, name string, def bool) (bool, error) {
	v := getenv(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: want true or false, got %q", name, v)
	}
	return b, nil
}
