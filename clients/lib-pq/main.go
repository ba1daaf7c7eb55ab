// Command lib-pq is the pgtls adapter for lib/pq (github.com/lib/pq), the original
// pure-Go PostgreSQL driver for database/sql: the case protocol v1
// (docs/case-protocol.md).
//
// The case becomes a libpq-style keyword/value connection string that lib/pq parses
// itself (pq.NewConnector: host, hostaddr, sslmode, sslrootcert, sslnegotiation,
// sslsni, ssl_min/max_protocol_version, connect_timeout, application_name), so lib/pq's
// own semantics apply. lib/pq has hostaddr (it dials hostaddr and names the server
// `host` for SNI and verification), so no lookup hook is needed. HOME and PG* are set
// per case with os.Setenv before parsing: lib/pq reads PG* variables and
// ~/.postgresql/root.crt from $HOME. lib/pq exposes no TLS session: the adapter reads
// the unexported net.Conn of its connection by reflection (as the pgjdbc adapter reads
// pgjdbc's SSLSession), only to report version, cipher and chain.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/lib/pq"
)

const protocolVersion = 1

var optionalFields = []string{"sslnegotiation", "channel_binding", "ssl_min_protocol_version",
	"ssl_max_protocol_version", "sslsni", "connect_options"}

// lib/pq's connection string keywords (Config's `postgres` tags, v1.12): every optional
// field but channel_binding, which lib/pq does not have (an unknown keyword would be
// sent to the server as a run-time parameter).
var feats = []string{"connect_options", "ssl_max_protocol_version", "ssl_min_protocol_version",
	"sslnegotiation", "sslsni"}

var isolated = []string{"SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS"}

// docs/surfaces.md. pq.NewConfig (connector.go, v1.12.3) reads a keyword/value string
// or a postgres:// URL (convertURL: the query parameters become keywords) over the PG*
// variables (Config.fromEnv: each field's `env` tag); pq.Config is the options form
// (the struct literal its example passes to pq.NewConnectorConfig).
var surfaces = []string{"surface:conninfo", "surface:url", "surface:env", "surface:options",
	"surface:url+options", "surface:url+env"}
var surfaceReasons = map[string]string{
	"surface:npgsql": "lib/pq parses keyword=value strings and postgres:// URLs (pq.NewConfig); it has no parser for the ADO.NET form (Key=Value;...)",
	"literal":        "lib-pq adapter: source-page strings are run by libpq-based adapters; lib/pq would read the same keyword=value syntax",
}

// libpq's PG* variable for each TLS keyword (the env surfaces). The adapter sets
// libpq's names; lib/pq's own `env` tags are what it reads (ssl_min/max_protocol_version
// are tagged SSLPGMINPROTOCOLVERSION / SSLPGMAXPROTOCOLVERSION in v1.12.3, so libpq's
// PGSSLMINPROTOCOLVERSION is not read, and the case shows it).
var tlsEnv = map[string]string{"sslmode": "PGSSLMODE", "sslrootcert": "PGSSLROOTCERT",
	"sslnegotiation": "PGSSLNEGOTIATION", "sslsni": "PGSSLSNI",
	"ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION", "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION"}

func isTLSKey(k string) bool { return strings.HasPrefix(k, "ssl") }

// surfaceString writes the settings as the string pq.NewConfig reads: keyword/value
// pairs or a postgres:// URL, without the keys in skip; on the env surfaces the TLS
// settings are set as PG* variables instead.
func surfaceString(surface string, keys, vals []string, skip map[string]bool) string {
	var in []int
	for i, k := range keys {
		if skip[k] {
			continue
		}
		if (surface == "env" || surface == "url+env") && isTLSKey(k) {
			os.Setenv(tlsEnv[k], vals[i])
			continue
		}
		in = append(in, i)
	}
	if surface != "url" && surface != "url+env" && surface != "url+options" {
		var parts []string
		for _, i := range in {
			parts = append(parts, keys[i]+"="+quote(vals[i]))
		}
		return strings.Join(parts, " ")
	}
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
		u.Host = net.JoinHostPort(host, port)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// optionsConfig is the options surface: a pq.Config literal, as lib/pq's example writes
// it, with the fields the case sets (a literal's SSLSNI is false unless the case sets
// sslsni: NewConfig's default of true applies to strings only).
func optionsConfig(keys, vals []string) (pq.Config, error) {
	var cfg pq.Config
	for i, k := range keys {
		v := vals[i]
		switch k {
		case "host":
			cfg.Host = v
		case "hostaddr":
			a, err := netip.ParseAddr(v)
			if err != nil {
				return cfg, fmt.Errorf("hostaddr: %v", err)
			}
			cfg.Hostaddr = a
		case "port":
			p, err := strconv.ParseUint(v, 10, 16)
			if err != nil {
				return cfg, fmt.Errorf("port: %v", err)
			}
			cfg.Port = uint16(p)
		case "user":
			cfg.User = v
		case "password":
			cfg.Password = v
		case "dbname":
			cfg.Database = v
		case "application_name":
			cfg.ApplicationName = v
		case "sslmode":
			cfg.SSLMode = pq.SSLMode(v)
		case "sslrootcert":
			cfg.SSLRootCert = v
		case "sslnegotiation":
			cfg.SSLNegotiation = pq.SSLNegotiation(v)
		case "sslsni":
			cfg.SSLSNI = v == "1"
		case "ssl_min_protocol_version":
			cfg.SSLMinProtocolVersion = pq.SSLProtocolVersion(v)
		case "ssl_max_protocol_version":
			cfg.SSLMaxProtocolVersion = pq.SSLProtocolVersion(v)
		case "connect_timeout":
			n, err := strconv.Atoi(v)
			if err != nil {
				return cfg, fmt.Errorf("connect_timeout: %v", err)
			}
			cfg.ConnectTimeout = time.Duration(n) * time.Second
		default:
			return cfg, fmt.Errorf("lib-pq adapter: no pq.Config field written for %s", k)
		}
	}
	return cfg, nil
}

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

func pqVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/lib/pq" {
				return strings.TrimPrefix(d.Version, "v")
			}
		}
	}
	return "unknown"
}

func hello() map[string]any {
	v := pqVersion()
	return map[string]any{
		"protocol":    protocolVersion,
		"client":      "lib-pq",
		"version":     v,
		"libpq":       nil,
		"tls_library": "crypto/tls (Go " + runtime.Version() + ")",
		"runtime":     "Go " + runtime.Version(),
		"build":       fmt.Sprintf("lib/pq %s (Go %s crypto/tls)", v, runtime.Version()),
		"features":    append(append([]string{}, feats...), surfaces...),
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

// netConnOf returns the net.Conn of a lib/pq connection (the unexported field `c` of
// *pq.conn, read by reflection), or nil when the driver's layout is not the expected one.
func netConnOf(dc any) net.Conn {
	v := reflect.ValueOf(dc)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	f := v.Elem().FieldByName("c")
	if !f.IsValid() || !f.CanAddr() || f.Type() != reflect.TypeOf((*net.Conn)(nil)).Elem() {
		return nil
	}
	nc, _ := reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface().(net.Conn)
	return nc
}

func runCase(c map[string]any) (r result) {
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
		for _, g := range surfaces {
			found = found || g == n
		}
		if !found {
			reason, ok := surfaceReasons[n]
			if !ok {
				reason = "lib-pq: the adapter cannot express \"" + n + "\""
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
				r.Unsupported = strp("lib-pq: lib/pq " + pqVersion() + " has no " + f + " setting")
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

	var parts, keys, vals []string
	add := func(k, v string) {
		parts = append(parts, k+"="+quote(v))
		keys = append(keys, k)
		vals = append(vals, v)
	}
	for _, k := range []string{"host", "hostaddr", "user", "password", "dbname", "sslmode", "sslrootcert",
		"application_name", "sslnegotiation", "sslsni", "ssl_min_protocol_version", "ssl_max_protocol_version"} {
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

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(timeoutMS)*time.Millisecond)
	defer cancel()
	var connector *pq.Connector
	sf, _ := c["surface"].(string)
	switch sf {
	case "options", "url+options":
		if _, ok := c["connect_options"].(map[string]any); ok {
			r.Unsupported = strp("lib-pq adapter: connect_options are written as keywords of a string only")
			return r
		}
	}
	switch sf {
	case "":
		connector, err = pq.NewConnector(strings.Join(parts, " "))
	case "options":
		var cfg pq.Config
		if cfg, err = optionsConfig(keys, vals); err != nil {
			return bad(err)
		}
		connector, err = pq.NewConnectorConfig(cfg)
	case "url+options":
		// The URL holds the target and sslmode, the Config the root file: NewConfig
		// parses the URL, then the field is set, as a user adds one to a parsed Config.
		var cfg pq.Config
		root, hasRoot, _ := getString(c, "sslrootcert")
		cfg, err = pq.NewConfig(surfaceString(sf, keys, vals, map[string]bool{"sslrootcert": true}))
		if err == nil {
			if hasRoot {
				cfg.SSLRootCert = root
			}
			connector, err = pq.NewConnectorConfig(cfg)
		}
	default:
		connector, err = pq.NewConnector(surfaceString(sf, keys, vals, nil))
	}
	if err != nil {
		return driverError(r, err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		return driverError(r, err)
	}
	defer conn.Close()
	r.Connected = true
	r.TLS = new(bool)
	_ = conn.Raw(func(dc any) error {
		nc := netConnOf(dc)
		if nc == nil {
			r.TLS = nil
			r.Notes = strp("cannot read lib/pq's connection (field c): TLS facts unknown")
			return nil
		}
		tc, ok := nc.(*tls.Conn)
		if !ok {
			return nil
		}
		st := tc.ConnectionState()
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
		return nil
	})
	query, ok, _ := getString(c, "query")
	if !ok {
		query = "SELECT ssl_is_used()"
	}
	var v any
	err = conn.QueryRowContext(ctx, query).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		r.Error = strp(err.Error())
		var pe *pq.Error
		if errors.As(err, &pe) {
			r.ErrorCode = strp(string(pe.Code))
		}
	default:
		r.QueryResult = asText(v)
	}
	return r
}

// asText renders a value lib/pq decoded as PostgreSQL's text output would: booleans
// t/f (lib/pq decodes bool, int and float columns into Go values), NULL as null.
func asText(v any) *string {
	switch x := v.(type) {
	case nil:
		return nil
	case bool:
		if x {
			return strp("t")
		}
		return strp("f")
	case []byte:
		return strp(string(x))
	case time.Time:
		return strp(x.Format(time.RFC3339Nano))
	default:
		return strp(fmt.Sprint(x))
	}
}

func driverError(r result, err error) result {
	r.Error = strp(err.Error())
	var pe *pq.Error
	switch {
	case errors.As(err, &pe):
		r.ErrorCode = strp(string(pe.Code))
	case errors.Is(err, context.DeadlineExceeded):
		r.ErrorCode = strp("timeout")
	default:
		r.ErrorCode = strp(errorClass(err))
	}
	return r
}

// errorClass names the failing layer by the most specific Go error type in the chain.
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
	case errors.Is(err, driver.ErrBadConn):
		return "driver.ErrBadConn"
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
		case name == "connect_options":
			var m map[string]any
			if err := json.Unmarshal([]byte(v), &m); err != nil {
				return nil, fmt.Errorf("connect_options: %v", err)
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
	args := os.Args[1:]
	emit(out, hello())
	if len(args) > 0 && args[0] == "--describe" {
		return
	}
	if len(args) > 0 {
		c, err := parseFlags(args)
		if err != nil {
			emit(out, result{Error: strp("adapter: bad flags: " + err.Error()), ErrorCode: strp("adapter")})
			os.Exit(2)
		}
		emit(out, runCase(c))
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
		// Go loads the system roots once per process (crypto/x509 systemRoots, a
		// sync.Once), from SSL_CERT_FILE/SSL_CERT_DIR as they were at that moment; a
		// case whose system store differs from the first case's runs in a fresh child.
		key := systemRootsKey(c)
		if !haveRootsKey {
			rootsKey, haveRootsKey = key, true
		}
		if key != rootsKey {
			emit(out, runInChild(c, line))
			continue
		}
		emit(out, runCase(c))
		releaseLeakedConns()
	}
}

// releaseLeakedConns runs the garbage collector and the finalizers it queues. lib/pq
// v1.12.3 does not close the first connection when sslmode=prefer falls back to
// plaintext after a TLS failure, nor when allow retries with TLS (conn.go: `goto
// restartHost` without cn.c.Close()); the socket stays open until Go's finalizer for
// the unreachable net.Conn closes it. A user's process closes it at some later
// collection; here it is closed before the next case, so that its late close is not
// seen by the mock during another case (and the runner does not wait for it).
func releaseLeakedConns() {
	runtime.GC()
	runtime.GC() // the first cycle queues the finalizers; the second lets them run
	time.Sleep(time.Millisecond)
}

// systemRootsKey names the system store a case asks for (its env's
// SSL_CERT_FILE and SSL_CERT_DIR).
func systemRootsKey(c map[string]any) string {
	env, _ := c["env"].(map[string]any)
	f, _ := env["SSL_CERT_FILE"].(string)
	d, _ := env["SSL_CERT_DIR"].(string)
	return f + "\x00" + d
}

// runInChild runs one case line in a new process of this adapter (stdin protocol,
// one case) and returns its result, noting that it did.
func runInChild(c map[string]any, line string) result {
	fail := func(err error) result {
		return result{ID: c["id"], Error: strp("adapter: child process: " + err.Error()),
			ErrorCode: strp("adapter")}
	}
	self, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	cmd := exec.Command(self)
	cmd.Env = baseEnv
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
	note := "ran in a child process (Go loads the system roots once per process)"
	if r.Notes != nil && *r.Notes != "" {
		note = *r.Notes + "; " + note
	}
	r.Notes = &note
	return r
}
