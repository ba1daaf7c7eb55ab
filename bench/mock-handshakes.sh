#!/bin/sh
# pgtls bench: full TLS handshakes per second of the mock server vs
# `openssl s_server`, same chain, same key, same load generator
# (`openssl s_time -new`: one full handshake per connection, no resumption).
#
# usage: bench/mock-handshakes.sh [BUILD_DIR] [SECONDS] [SCENARIO]
#
# The mock is driven with PG17 direct TLS (the first byte is the ClientHello),
# so both servers see the same bytes. s_time offers no ALPN, so after each
# handshake the mock closes the session (PostgreSQL's rule for direct TLS
# without ALPN); the handshake itself is complete and counted the same way.
# Prints both rates and mock/s_server. Not a test: numbers depend on the host.
set -eu
build=${1:-build}
secs=${2:-5}
scenario=${3:-azure-new}
pgtls="$build/cli/pgtls"
tmp=$(mktemp -d)
mock_pid=""
srv_pid=""
cleanup() {
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true
    [ -n "$srv_pid" ] && kill "$srv_pid" 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

"$pgtls" ca gen --out "$tmp/fx" >/dev/null
chain=$(python3 -c 'import json,sys,os; d=json.load(open(sys.argv[1]+"/index.json")); c=d["chains"][d["scenarios"][sys.argv[2]]["chain"]]; print(os.path.join(sys.argv[1], c["pem"]))' "$tmp/fx" "$scenario")
key=$(python3 -c 'import json,sys,os; d=json.load(open(sys.argv[1]+"/index.json")); c=d["chains"][d["scenarios"][sys.argv[2]]["chain"]]; print(os.path.join(sys.argv[1], c["key"]))' "$tmp/fx" "$scenario")
# s_server: the leaf with -cert, the rest of the chain file with -cert_chain.
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

srv_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
chain_arg=""
[ -s "$tmp/rest.pem" ] && chain_arg="-cert_chain $tmp/rest.pem"
# shellcheck disable=SC2086
openssl s_server -quiet -accept "127.0.0.1:$srv_port" -cert "$tmp/leaf.pem" $chain_arg \
    -key "$key" -no_ticket > /dev/null 2>&1 &
srv_pid=$!
sleep 0.5

rate() {
    out=$(openssl s_time -connect "127.0.0.1:$1" -new -time "$secs" 2>/dev/null || true)
    # "N connections in T real seconds, B bytes read per connection"
    echo "$out" | sed -n 's/^\([0-9]*\) connections in \([0-9.]*\) real seconds.*/\1 \2/p' |
        awk '{ if ($2 > 0) printf "%.1f\n", $1 / $2; else print "0" }'
}
mock_rate=$(rate "$mock_port")
srv_rate=$(rate "$srv_port")
echo "scenario:          $scenario ($(grep -c 'BEGIN CERTIFICATE' "$chain") certificates sent)"
echo "mock handshakes/s:     $mock_rate"
echo "s_server handshakes/s: $srv_rate"
awk -v a="$mock_rate" -v b="$srv_rate" 'BEGIN { if (b > 0) printf "ratio mock/s_server:   %.2f\n", a / b }'
