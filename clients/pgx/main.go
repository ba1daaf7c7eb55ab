// Command pgx is the pgtls adapter for pgx v5 (github.com/jackc/pgx/v5): the case
// protocol v1 (docs/case-protocol.md).
//
// The case becomes a libpq-style keyword/value connection string that pgx parses
// itself (pgconn.ParseConfig: sslmode, sslrootcert, sslnegotiation, sslsni,
// channel_binding, connect_timeout, application_name); pgx has no hostaddr, so the
// adapter sets Config.LookupFunc to answer `host` with `hostaddr` (pgx's own hook; TLS
// still verifies `host`). HOME and PG* are set per case with os.Setenv before parsing,
// so pgx's environment defaults and ~/.postgresql/root.crt follow the case.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"net/url"

	"github.com/jackc/pgx/v5/pgconn"
)

// docs/surfaces.md. pgconn.ParseConfig reads a keyword/value string or a URL and
// the PG* variables (config.go parseEnvSettings: PGSSLMODE, PGSSLROOTCERT,
// PGSSLNEGOTIATION, PGSSLSNI, ...). pgconn.Config has no sslmode or sslrootcert
// field (TLS is a *tls.Config that ParseConfig builds), so pgx has no options
// surface for them.
var surfaces = []string{"surface:conninfo", "surface:url", "surface:env", "surface:url+env"}
var surfaceReasons = map[string]string{
	"surface:options": "pgx has no option fields for sslmode or sslrootcert: pgconn.Config " +
		"carries a *tls.Config, which ParseConfig builds from a connection string and PG* variables (pgconn/config.go configTLS)",
	"surface:url+options": "pgx has no option fields for sslmode or sslrootcert: pgconn.Config " +
		"carries a *tls.Config, which ParseConfig builds from a connection string and PG* variables (pgconn/config.go configTLS)",
	"surface:npgsql": "pgx parses keyword=value strings and postgres:// URLs (pgconn.ParseConfig); it has no parser for the ADO.NET form (Key=Value;...)",
	"literal":        "pgx adapter: source-page strings are run by libpq-based adapters; pgx would read the same keyword=value syntax",
}
var tlsEnv = map[string]string{"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT",
	"sslnegotiation": "PGSSLNEGOTIATION", "channel_binding": "PGCHANNELBINDING", "sslsni": "PGSSLSNI",
	"sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY"}

func isTLSKey(k string) bool { return strings.HasPrefix(k, "ssl") || k == "channel_binding" }

// surfaceString writes the settings on a surface: the string ParseConfig reads,
// with the TLS settings of the env surfaces set as PG* variables instead.
func surfaceString(surface string, keys, vals []string) (string, error) {
	var in []int
	for i, k := range keys {
		if (surface == "env" || surface == "url+env") && isTLSKey(k) {
			name, ok := tlsEnv[k]
			if !ok {
				return "", fmt.Errorf("pgx reads no environment variable for %s", k)
			}
			os.Setenv(name, vals[i])
			continue
		}
		in = append(in, i)
	}
	if surface == "url" || surface == "url+env" {
		u := url.URL{Scheme: "postgresql", Path: "/"}
		q := url.Values{}
		var user, pass string
		var hasUser, hasPass bool
		host, port := "", ""
		for _, i := range in {
			switch keys[i] {
			case "user":
				user, hasUser = vals[i], true
			case "password":
				pass, hasPass = vals[i], true
			case "host":
				host = vals[i]
			case "port":
				port = vals[i]
			case "dbname":
				u.Path = "/" + vals[i]
			default:
				q.Set(keys[i], vals[i])
			}
		}
		if hasUser && hasPass {
			u.User = url.UserPassword(user, pass)
		} else if hasUser {
			u.User = url.User(user)
		}
		u.Host = host
		if port != "" {
			u.Host = host + ":" + port
		}
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	var parts []string
	for _, i := range in {
		parts = append(parts, keys[i]+"="+quote(vals[i]))
	}
	return strings.Join(parts, " "), nil
}

const protocolVersion = 1

var optionalFields = []string{"sslnegotiation", "channel_binding", "ssl_min_protocol_version",
	"ssl_max_protocol_version", "sslsni", "connect_options", "entra"}

// keywords pgx might know: offered as features only if ParseConfig consumes them
// (an unknown keyword would be sent to the server as a runtime parameter).
var probeKeywords = map[string]string{
	"sslnegotiation":  "sslnegotiation=postgres",
	"channel_binding": "channel_binding=prefer",
	"sslsni":          "sslsni=1",
}

var isolated = []string{"SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS"}

type result struct {
	ID          any      `json:"id"`
	Connected   bool     `json:"connected"`
	TLS         *bool    `json:"tls"`
	TLSVersion  *string  `json:"tls_version"`
	Cipher      *string  `json:"cipher"`
	QueryResult *string  `json:"query_result"`
	Error       *string  `json:"error"`
	ErrorCode   *string  `json:"error_code"`
	ElapsedMS   int64    `json:"elapsed_ms"`
	Chain       []string `json:"chain"`
	Unsupported *string  `json:"unsupported"`
	Notes       *string  `json:"notes"`
}

func strp(s string) *string { return &s }

// tlsConnOf finds the *tls.Conn under pgconn's net.Conn. pgx v5.0 to v5.2 wrap it in
// internal/nbconn.TLSConn (non-blocking I/O; the field tlsConn, no accessor), later
// releases return it as is: a version build of an early v5 (docs/versions.md) would
// otherwise report an encrypted connection as plaintext. Read-only reflection.
func tlsConnOf(c net.Conn) (*tls.Conn, bool) {
	if tc, ok := c.(*tls.Conn); ok {
		return tc, true
	}
	v := reflect.ValueOf(c)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil, false
	}
	s := v.Elem()
	want := reflect.TypeOf((*tls.Conn)(nil))
	for i := 0; i < s.NumField(); i++ {
		f := s.Field(i)
		if f.Type() == want && f.CanAddr() {
			tc := reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface().(*tls.Conn)
			return tc, tc != nil
		}
	}
	return nil, false
}

func pgxVersion() string { return modVersion("github.com/jackc/pgx/v5") }

// modVersion is the version of a module linked into this binary.
func modVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == path {
				return strings.TrimPrefix(d.Version, "v")
			}
		}
	}
	return "unknown"
}

func features() []string {
	// "entra": token rows through azidentity (entra.go, docs/entra.md)
	f := []string{"connect_options", "entra"}
	for name, kv := range probeKeywords {
		cfg, err := pgconn.ParseConfig("host=127.0.0.1 sslmode=disable " + kv)
		if err == nil {
			if _, leaked := cfg.RuntimeParams[name]; !leaked {
				f = append(f, name)
			}
		}
	}
	sort.Strings(f)
	return f
}

func hello(name string, feats []string) map[string]any {
	v := pgxVersion()
	return map[string]any{
		"protocol":    protocolVersion,
		"client":      name,
		"version":     v,
		"libpq":       nil,
		"tls_library": "crypto/tls (Go " + runtime.Version() + ")",
		"runtime":     "Go " + runtime.Version(),
		"build":       fmt.Sprintf("pgx %s (Go %s crypto/tls)", v, runtime.Version()),
		"features":    feats,
		"extra":       map[string]any{"azidentity": modVersion("github.com/Azure/azure-sdk-for-go/sdk/azidentity")},
	}
}

// quote writes a libpq connection-string value: single-quoted, \ and ' escaped.
func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

func getString(c map[string]any, k string) (string, bool, error) {
	v, ok := c[k]
	if !ok || v == nil {
		return "", false, nil
	}
	switch x := v.(type) {
	case string:
		return x, true, nil
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true, nil
	case bool:
		if x {
			return "1", true, nil
		}
		return "0", true, nil
	}
	return "", false, fmt.Errorf("%s must be a string", k)
}

func getInt(c map[string]any, k string) (int, bool, error) {
	v, ok := c[k]
	if !ok || v == nil {
		return 0, false, nil
	}
	f, isNum := v.(float64)
	if !isNum || f != float64(int(f)) {
		return 0, false, fmt.Errorf("%s must be an integer", k)
	}
	return int(f), true, nil
}

var baseEnv = os.Environ()

// applyEnv resets the process environment to the start-up one minus PG* and the
// trust-store variables, then sets the case's (HOME included).
func applyEnv(env map[string]any) error {
	os.Clearenv()
	for _, kv := range baseEnv {
		k, v, _ := strings.Cut(kv, "=")
		skip := strings.HasPrefix(k, "PG")
		for _, n := range isolated {
			skip = skip || k == n
		}
		if !skip {
			os.Setenv(k, v)
		}
	}
	for k, v := range env {
		if v == nil {
			continue
		}
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("env.%s must be a string", k)
		}
		os.Setenv(k, s)
	}
	return nil
}

// homeFollowsEnv says whether the loaded pgx finds ~/.postgresql/root.crt under
// $HOME. pgx up to v5.7 takes the home directory from os/user.Current() (the passwd
// entry; pgconn/defaults.go), later releases from $HOME (os.UserHomeDir), so with an
// older pgx (a version build, docs/versions.md) the case's HOME does not isolate the
// default root file: measured by giving ParseConfig a HOME whose root.crt is not a
// certificate (a pgx that reads it fails to parse the config).
var homeFollowsEnv = probeHome()

func probeHome() bool {
	dir, err := os.MkdirTemp("", "pgtls-pgx-home-")
	if err != nil {
		return true
	}
	defer os.RemoveAll(dir)
	if os.MkdirAll(filepath.Join(dir, ".postgresql"), 0o700) != nil ||
		os.WriteFile(filepath.Join(dir, ".postgresql", "root.crt"), []byte("not a certificate\n"), 0o600) != nil {
		return true
	}
	if applyEnv(map[string]any{"HOME": dir}) != nil {
		return true
	}
	_, err = pgconn.ParseConfig("host=127.0.0.1 sslmode=require")
	return err != nil
}

// homeNotIsolated names the default root file a pgx reading the passwd home would
// use in place of (or besides) the case's, when there is one; "" otherwise.
func homeNotIsolated(c map[string]any) string {
	if homeFollowsEnv {
		return ""
	}
	if v, ok, _ := getString(c, "sslrootcert"); ok && v != "" {
		return ""
	}
	dirs := []string{os.Getenv("HOME")}
	if u, err := user.Current(); err == nil {
		dirs = append(dirs, u.HomeDir)
	}
	for _, d := range dirs {
		f := filepath.Join(d, ".postgresql", "root.crt")
		if _, err := os.Stat(f); d != "" && err == nil {
			return f
		}
	}
	return ""
}

func runCase(c map[string]any, feats []string) (r result) {
	start := time.Now()
	r.ID = c["id"]
	defer func() { r.ElapsedMS = time.Since(start).Milliseconds() }()
	bad := func(err error) result {
		r.Error = strp("adapter: bad case: " + err.Error())
		r.ErrorCode = strp("adapter")
		return r
	}
	needs := []string{}
	if sf, _ := c["surface"].(string); sf != "" {
		needs = append(needs, "surface:"+sf)
	}
	if lit, _ := c["literal"].(string); lit != "" {
		needs = append(needs, "literal")
	}
	for _, n := range needs {
		found := false
		for _, g := range feats {
			found = found || g == n
		}
		if !found {
			reason, ok := surfaceReasons[n]
			if !ok {
				reason = "pgx: the adapter cannot express \"" + n + "\""
			}
			r.Unsupported = strp(reason)
			return r
		}
	}
	for _, f := range optionalFields {
		if v, ok := c[f]; ok && v != nil {
			found := false
			for _, g := range feats {
				found = found || g == f
			}
			if !found {
				r.Unsupported = strp("pgx: no equivalent of " + f + " in pgx " + pgxVersion())
				return r
			}
		}
	}
	timeoutMS, has, err := getInt(c, "timeout_ms")
	if err != nil {
		return bad(err)
	}
	if !has || timeoutMS <= 0 {
		timeoutMS = 10000
	}
	port, hasPort, err := getInt(c, "port")
	if err != nil {
		return bad(err)
	}
	env := map[string]any{}
	if e, ok := c["env"]; ok && e != nil {
		m, isMap := e.(map[string]any)
		if !isMap {
			return bad(errors.New("env must be an object"))
		}
		env = m
	}
	if err := applyEnv(env); err != nil {
		return bad(err)
	}
	if f := homeNotIsolated(c); f != "" {
		r.Unsupported = strp("pgx " + pgxVersion() + " takes ~/.postgresql/root.crt from the passwd " +
			"entry (os/user.Current), not $HOME, so the case's HOME cannot be isolated (" + f + " exists)")
		return r
	}

	var parts, keys, vals []string
	add := func(k, v string) {
		parts = append(parts, k+"="+quote(v))
		keys = append(keys, k)
		vals = append(vals, v)
	}
	for _, k := range []string{"host", "user", "password", "dbname", "sslmode", "sslrootcert",
		"application_name", "sslnegotiation", "channel_binding", "sslsni"} {
		v, ok, err := getString(c, k)
		if err != nil {
			return bad(err)
		}
		if ok {
			add(k, v)
		}
	}
	if hasPort {
		add("port", strconv.Itoa(port))
	}
	add("connect_timeout", strconv.Itoa((timeoutMS+999)/1000))
	if co, ok := c["connect_options"].(map[string]any); ok {
		keys := make([]string, 0, len(co))
		for k := range co {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			add(k, fmt.Sprint(co[k]))
		}
	}
	host, _, _ := getString(c, "host")
	hostaddr, hasAddr, err := getString(c, "hostaddr")
	if err != nil {
		return bad(err)
	}
	if host == "" && hasAddr {
		add("host", hostaddr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(timeoutMS)*time.Millisecond)
	defer cancel()
	connString := strings.Join(parts, " ")
	if sf, _ := c["surface"].(string); sf != "" {
		s, err := surfaceString(sf, keys, vals)
		if err != nil {
			r.Unsupported = strp(err.Error())
			return r
		}
		connString = s
	}
	cfg, err := pgconn.ParseConfig(connString)
	if err != nil {
		return driverError(r, err)
	}
	if hasAddr && host != "" && host != hostaddr {
		cfg.LookupFunc = func(ctx context.Context, h string) ([]string, error) {
			if h == host {
				return []string{hostaddr}, nil
			}
			return net.DefaultResolver.LookupHost(ctx, h)
		}
	}
	if e, ok := c["entra"].(map[string]any); ok {
		tok, err := entraToken(ctx, e)
		if err != nil {
			return driverError(r, err)
		}
		cfg.Password = tok
	}
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return driverError(r, err)
	}
	defer conn.Close(context.Background())
	r.Connected = true
	if tc, ok := tlsConnOf(conn.Conn()); ok {
		st := tc.ConnectionState()
		r.TLS = new(bool)
		*r.TLS = true
		r.TLSVersion = strp(strings.Replace(tls.VersionName(st.Version), "TLS ", "TLSv", 1))
		r.Cipher = strp(tls.CipherSuiteName(st.CipherSuite))
		certs := st.PeerCertificates
		if len(st.VerifiedChains) > 0 {
			certs = st.VerifiedChains[0]
		}
		for _, cert := range certs {
			r.Chain = append(r.Chain, cert.Subject.String())
		}
	} else {
		r.TLS = new(bool)
	}
	query, ok, _ := getString(c, "query")
	if !ok {
		query = "SELECT ssl_is_used()"
	}
	res, err := conn.Exec(ctx, query).ReadAll()
	if err != nil {
		r.Error = strp(err.Error())
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			r.ErrorCode = strp(pe.Code)
		}
		return r
	}
	if len(res) > 0 && len(res[0].Rows) > 0 && len(res[0].Rows[0]) > 0 && res[0].Rows[0][0] != nil {
		r.QueryResult = strp(string(res[0].Rows[0][0]))
	}
	return r
}

func driverError(r result, err error) result {
	r.Error = strp(err.Error())
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe):
		r.ErrorCode = strp(pe.Code)
	case errors.Is(err, context.DeadlineExceeded):
		r.ErrorCode = strp("timeout")
	default:
		r.ErrorCode = strp(errorClass(err))
	}
	return r
}

// errorClass names the failing layer by the most specific Go error type in the chain
// (pgx joins and wraps errors, so errors.As, not Unwrap, finds them).
func errorClass(err error) string {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var alert tls.AlertError
	var recordHeader tls.RecordHeaderError
	var opErr *net.OpError
	switch {
	case errors.As(err, &unknownCA):
		return "x509.UnknownAuthorityError"
	case errors.As(err, &hostname):
		return "x509.HostnameError"
	case errors.As(err, &invalid):
		return fmt.Sprintf("x509.CertificateInvalidError(reason=%d)", invalid.Reason)
	case errors.As(err, &verify):
		return "tls.CertificateVerificationError"
	case errors.As(err, &alert):
		return "tls.AlertError"
	case errors.As(err, &recordHeader):
		return "tls.RecordHeaderError"
	case errors.As(err, &opErr):
		return "net.OpError"
	}
	return fmt.Sprintf("%T", err)
}

func emit(w *bufio.Writer, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"id":null,"connected":false,"error":"adapter: cannot encode result"}`)
	}
	w.Write(b)
	w.WriteByte('\n')
	w.Flush()
}

func parseFlags(args []string) (map[string]any, error) {
	c := map[string]any{}
	env := map[string]any{}
	for i := 0; i < len(args); i += 2 {
		if !strings.HasPrefix(args[i], "--") || i+1 >= len(args) {
			return nil, fmt.Errorf("expected --FIELD VALUE, got %q", args[i])
		}
		name := strings.ReplaceAll(args[i][2:], "-", "_")
		v := args[i+1]
		switch {
		case name == "env":
			k, val, ok := strings.Cut(v, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("--env wants NAME=VALUE, got %q", v)
			}
			env[k] = val
		case v == "null":
			c[name] = nil
		case name == "port" || name == "timeout_ms":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", name, err)
			}
			c[name] = float64(n)
		case name == "connect_options" || name == "entra":
			var m map[string]any
			if err := json.Unmarshal([]byte(v), &m); err != nil {
				return nil, fmt.Errorf("%s: %v", name, err)
			}
			c[name] = m
		default:
			c[name] = v
		}
	}
	c["env"] = env
	if _, ok := c["id"]; !ok {
		c["id"] = "one-shot"
	}
	return c, nil
}

func main() {
	out := bufio.NewWriter(os.Stdout)
	name := "pgx"
	args := os.Args[1:]
	if len(args) > 0 && args[0] == "--pool-check" {
		os.Exit(poolCheck(args[1:]))
	}
	if len(args) >= 2 && args[0] == "--client-name" {
		name, args = args[1], args[2:]
	}
	feats := append(features(), surfaces...)
	emit(out, hello(name, feats))
	if len(args) > 0 && args[0] == "--describe" {
		return
	}
	if len(args) > 0 {
		c, err := parseFlags(args)
		if err != nil {
			emit(out, result{Error: strp("adapter: bad flags: " + err.Error()), ErrorCode: strp("adapter")})
			os.Exit(2)
		}
		emit(out, runCase(c, feats))
		return
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<16), 1<<24)
	rootsKey, haveRootsKey := "", false
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		if line == "" {
			continue
		}
		var c map[string]any
		if err := json.Unmarshal([]byte(line), &c); err != nil || c == nil {
			msg := "case is not a JSON object"
			if err != nil {
				msg = err.Error()
			}
			emit(out, result{Error: strp("adapter: cannot parse case: " + msg), ErrorCode: strp("adapter")})
			continue
		}
		// Go loads the system roots once per process (crypto/x509
		// systemRoots, a sync.Once), from SSL_CERT_FILE/SSL_CERT_DIR as they
		// were at that moment. A user's process has one environment; the
		// runner changes these per case, so a case whose system store differs
		// from the first case's runs in a fresh child of this adapter.
		key := systemRootsKey(c)
		if !haveRootsKey {
			rootsKey, haveRootsKey = key, true
		}
		if key != rootsKey {
			emit(out, runInChild(c, line, name, "Go loads the system roots once per process"))
			continue
		}
		// MSAL Go keeps managed-identity tokens in a cache shared by every
		// credential of the process (managedidentity's package-level cache
		// manager): a token case gets a process of its own, so one case's
		// token never answers the next case's request. (The marker is not a
		// PG* variable: the adapter clears those, at start-up too.)
		if e, ok := c["entra"]; ok && e != nil && os.Getenv("ADAPTER_TOKEN_CHILD") == "" {
			emit(out, runInChild(c, line, name, "token case: a fresh token cache"))
			continue
		}
		emit(out, runCase(c, feats))
	}
}

// systemRootsKey names the system store a case asks for (its env's
// SSL_CERT_FILE and SSL_CERT_DIR).
func systemRootsKey(c map[string]any) string {
	env, _ := c["env"].(map[string]any)
	f, _ := env["SSL_CERT_FILE"].(string)
	d, _ := env["SSL_CERT_DIR"].(string)
	return f + "\x00" + d
}

// runInChild runs one case line in a new process of this adapter (stdin
// protocol, one case) and returns its result, noting that it did.
func runInChild(c map[string]any, line, name, why string) result {
	fail := func(err error) result {
		return result{ID: c["id"], Error: strp("adapter: child process: " + err.Error()),
			ErrorCode: strp("adapter")}
	}
	self, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	cmd := exec.Command(self, "--client-name", name)
	cmd.Env = append(append([]string{}, baseEnv...), "ADAPTER_TOKEN_CHILD=1")
	cmd.Stdin = strings.NewReader(line + "\n")
	cmd.Stderr = os.Stderr
	stdout, err := cmd.Output()
	if err != nil {
		return fail(err)
	}
	lines := strings.Split(strings.TrimSpace(string(stdout)), "\n")
	if len(lines) < 2 {
		return fail(errors.New("no result line"))
	}
	var r result
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &r); err != nil {
		return fail(err)
	}
	note := "ran in a child process (" + why + ")"
	if r.Notes != nil && *r.Notes != "" {
		note = *r.Notes + "; " + note
	}
	r.Notes = &note
	return r
}
