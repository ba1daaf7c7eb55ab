// Signs in to PostgreSQL with a Microsoft Entra ID token from the real
// azidentity SDK (ManagedIdentityCredential, which only calls the
// link-local IMDS address 169.254.169.254: the test runs it in a network
// namespace where `pgtls imds` listens there), with pgx (docs/entra.md).
//
// usage: entra-go --port N [--user U] [--client-id ID] [--mode M]
//
//	[--connections K] [--sleep S]
//
// modes:
//
//	beforeconnect  a pgxpool whose BeforeConnect hook sets a fresh token as the
//	               password of every new connection
//	static         one token fetched at start-up is the password of every connect
//
// Prints one JSON line per connection attempt; exit 0 when every attempt ran.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

const scope = "https://ossrdbms-aad.database.windows.net/.default"

func firstLine(err error) string {
	return strings.Join(strings.Fields(strings.SplitN(err.Error(), "\n", 2)[0]), " ")
}

func main() {
	host := flag.String("host", "127.0.0.1", "server address")
	port := flag.Int("port", 0, "server port")
	user := flag.String("user", "pgtls-vm", "role")
	dbname := flag.String("dbname", "postgres", "database")
	clientID := flag.String("client-id", "", "user-assigned identity")
	mode := flag.String("mode", "beforeconnect", "beforeconnect or static")
	connections := flag.Int("connections", 1, "connection attempts")
	sleep := flag.Float64("sleep", 0, "seconds between attempts")
	flag.Parse()
	if *port == 0 || (*mode != "beforeconnect" && *mode != "static") {
		fmt.Fprintln(os.Stderr, "entra-go: --port N and --mode beforeconnect|static are required")
		os.Exit(2)
	}
	opts := &azidentity.ManagedIdentityCredentialOptions{}
	if *clientID != "" {
		opts.ID = azidentity.ClientID(*clientID)
	}
	cred, err := azidentity.NewManagedIdentityCredential(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "entra-go:", err)
		os.Exit(1)
	}
	ctx := context.Background()
	token := func() (string, error) {
		tk, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
		return tk.Token, err
	}
	cfg, err := pgxpool.ParseConfig(fmt.Sprintf(
		"host=%s port=%d user=%s dbname=%s sslmode=require connect_timeout=10 pool_max_conn_idle_time=1ms",
		*host, *port, *user, *dbname))
	if err != nil {
		fmt.Fprintln(os.Stderr, "entra-go:", err)
		os.Exit(2)
	}
	out := json.NewEncoder(os.Stdout)
	var static string
	if *mode == "static" {
		if static, err = token(); err != nil {
			out.Encode(map[string]any{"attempt": 1, "mode": *mode, "ok": false, "stage": "token",
				"error": firstLine(err)})
			return
		}
		cfg.ConnConfig.Password = static
	} else {
		cfg.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
			tk, err := token()
			if err != nil {
				return fmt.Errorf("token: %w", err)
			}
			cc.Password = tk
			return nil
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "entra-go:", err)
		os.Exit(1)
	}
	defer pool.Close()
	for i := 0; i < *connections; i++ {
		if i > 0 {
			time.Sleep(time.Duration(*sleep * float64(time.Second)))
		}
		row := map[string]any{"attempt": i + 1, "mode": *mode}
		c, err := pool.Acquire(ctx)
		if err == nil {
			var u string
			err = c.QueryRow(ctx, "select current_user").Scan(&u)
			// a new connection for the next attempt, as a pool does after expiry
			c.Conn().Close(ctx)
			c.Release()
			if err == nil {
				row["ok"], row["current_user"] = true, u
			}
		}
		if err != nil {
			row["ok"] = false
			row["stage"] = "connect"
			if strings.Contains(err.Error(), "token: ") {
				row["stage"] = "token"
			}
			row["error"] = firstLine(err)
		}
		out.Encode(row)
	}
}
