#!/bin/sh
# pgtls bench: full TLS handshakes per second of the mock server, compared on
# the same chain and key, with the same load generator
# (bench/mock-handshake-client.c: THREADS threads, one full handshake per
# connection, no resumption, no verification):
#   - vs `openssl s_server`: both reached by direct TLS (the first byte is the
#     ClientHello; ALPN "postgresql" offered, s_server ignores it);
#   - vs a real PostgreSQL with ssl=on (if its server binaries and a
#     `postgres` user exist): both reached by SSLRequest, as libpq does.
#
# usage: bench/mock-handshakes.sh [BUILD_DIR] [SECONDS] [THREADS] [SCENARIO]
# Not a test: the numbers depend on the host; the ratios are what matter.
set -eu
build=${1:-build}
secs=${2:-5}
threads=${3:-2}
scenario=${4:-azure-new}
here=$(cd "$(dirname "$0")" && pwd)
pgtls="$build/cli/pgtls"
tmp=$(mktemp -d)
chmod 755 "$tmp"
mock_pid=""
srv_pid=""
pgdata=""
cleanup() {
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true
    [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null || true
    if [ -n "$pgdata" ]; then
        runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

cc -O2 -o "$tmp/client" "$here/mock-handshake-client.c" -lssl -lcrypto -lpthread
"$pgtls" ca gen --out "$tmp/fx" >/dev/null
field() {
    python3 -c 'import json,sys,os; d=json.load(open(sys.argv[1]+"/index.json")); c=d["chains"][d["scenarios"][sys.argv[2]]["chain"]]; print(os.path.join(sys.argv[1], c[sys.argv[3]]))' "$tmp/fx" "$scenario" "$1"
}
chain=$(field pem)
key=$(field key)
awk 'BEGIN{n=0} /BEGIN CERTIFICATE/{n++} n>1{print}' "$chain" > "$tmp/rest.pem"
awk 'BEGIN{n=0} /BEGIN CERTIFICATE/{n++} n==1{print}' "$chain" > "$tmp/leaf.pem"

"$pgtls" mock --fixtures "$tmp/fx" --scenario "$scenario" --port 0 > "$tmp/mock.out" 2>"$tmp/mock.err" &
mock_pid=$!
i=0
while ! grep -q "^listening" "$tmp/mock.out" 2>/dev/null; do
    i=$((i + 1)); [ $i -gt 100 ] && { cat "$tmp/mock.err"; exit 1; }
    sleep 0.05
done
mock_port=$(sed -n 's/.* port=\([0-9]*\).*/\1/p' "$tmp/mock.out" | head -1)

srv_port=$(free_port)
chain_arg=""
[ -s "$tmp/rest.pem" ] && chain_arg="-cert_chain $tmp/rest.pem"
# shellcheck disable=SC2086
openssl s_server -quiet -accept "127.0.0.1:$srv_port" -cert "$tmp/leaf.pem" $chain_arg \
    -key "$key" -no_ticket > /dev/null 2>&1 &
srv_pid=$!
sleep 0.5

rate() { "$tmp/client" "$1" "$2" "$secs" "$threads" | awk '{print $3}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo "scenario $scenario, $(grep -c 'BEGIN CERTIFICATE' "$chain") certificates sent, $threads client threads, ${secs}s each"
mock_direct=$(rate direct "$mock_port")
srv_direct=$(rate direct "$srv_port")
echo "direct TLS   mock: $mock_direct/s   openssl s_server: $srv_direct/s   mock/s_server: $(ratio "$mock_direct" "$srv_direct")"
mock_req=$(rate sslrequest "$mock_port")

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -n "$pgbin" ] && [ -x "$pgbin/postgres" ] && id postgres >/dev/null 2>&1; then
    pgdata="$tmp/pgdata"
    pg_port=$(free_port)
    cp "$chain" "$tmp/server.crt"
    cp "$key" "$tmp/server.key"
    chown postgres "$tmp/server.crt" "$tmp/server.key"
    chmod 600 "$tmp/server.key"
    mkdir -m 700 "$pgdata"
    chown postgres "$pgdata"
    runuser -u postgres -- "$pgbin/initdb" -D "$pgdata" -A trust >/dev/null
    cat >> "$pgdata/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$pgdata'
ssl = on
ssl_cert_file = '$tmp/server.crt'
ssl_key_file = '$tmp/server.key'
max_connections = 200
fsync = off
log_min_messages = fatal
CONF
    echo "hostssl all all 127.0.0.1/32 trust" > "$pgdata/pg_hba.conf"
    runuser -u postgres -- "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/pg.log" -w start >/dev/null
    pg_req=$(rate sslrequest "$pg_port")
    echo "SSLRequest   mock: $mock_req/s   PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}'): $pg_req/s   mock/PostgreSQL: $(ratio "$mock_req" "$pg_req")"
else
    echo "SSLRequest   mock: $mock_req/s   (no PostgreSQL server binaries or postgres user: skipped)"
fi
