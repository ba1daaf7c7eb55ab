#!/bin/sh
# pgtls bench: full TLS handshakes per second as the server gets more cores,
# set against the floor (`openssl speed -multi N`: RSA-2048 sign + ECDH, the
# least a server spends per handshake) and a real PostgreSQL on the same
# cores, with load generators on the other cores (several processes).
#
#   bench/multicore.sh --pack KIT      (on the build machine) copies into KIT
#       everything the run needs that Debian's openssl and postgresql-15 do
#       not give: pgtls, pgtls-load, libjansson/libinih/libpq, fixtures, this
#       script.
#   KIT/multicore.sh RESULTS           (on the measuring machine) writes
#       RESULTS/multicore.md (the table) and RESULTS/raw.txt; < 6 minutes.
#
# The server runs on cores 0..N-1 (taskset), the load generators on the rest;
# at N = all cores they share (said in the table). Server CPU is read from
# /proc (the mock: utime+stime of its process; PostgreSQL: the postmaster's
# own plus its reaped children's, after every backend has exited). Each cell
# runs SECS seconds (default 5; env SECS). Needs: openssl, taskset, awk,
# /usr/lib/postgresql/15/bin (or PGBIN) for the PostgreSQL column; root or a
# non-root user (PostgreSQL never runs as root: the script uses the
# `postgres` user, else `nobody`).
set -eu

here=$(cd "$(dirname "$0")" && pwd)

if [ "${1:-}" = "--pack" ]; then
    kit=${2:?usage: bench/multicore.sh --pack KIT}
    top=$(cd "$here/.." && pwd)
    build=${BUILD:-$top/build}
    for f in "$build/cli/pgtls" "$build/bench/pgtls-load"; do
        [ -x "$f" ] || { echo "multicore: no $f: build first (ninja -C build)" >&2; exit 2; }
    done
    rm -rf "$kit"
    mkdir -p "$kit/bin" "$kit/lib"
    cp "$build/cli/pgtls" "$build/bench/pgtls-load" "$kit/bin/"
    cp "$here/multicore.sh" "$kit/"
    for lib in libjansson.so.4 libinih.so.1 libpq.so.5; do
        p=$(ldd "$build/cli/pgtls" | awk -v l="$lib" '$1 == l { print $3 }')
        [ -n "$p" ] && cp -L "$p" "$kit/lib/"
    done
    "$build/cli/pgtls" ca gen --out "$kit/fixtures" >/dev/null
    echo "multicore: kit in $kit ($(du -sh "$kit" | cut -f1)); run: $kit/multicore.sh RESULTS_DIR"
    exit 0
fi

res=${1:?usage: multicore.sh RESULTS_DIR   (or bench/multicore.sh --pack KIT)}
mkdir -p "$res"
res=$(cd "$res" && pwd)
secs=${SECS:-5}
scenario=azure-new

# -- what we need -------------------------------------------------------------
if [ -x "$here/bin/pgtls" ]; then
    pgtls=$here/bin/pgtls; load=$here/bin/pgtls-load; fx=$here/fixtures
    export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
else
    top=$(cd "$here/.." && pwd)
    pgtls=$top/build/cli/pgtls; load=$top/build/bench/pgtls-load; fx=""
fi
missing=""
for t in openssl taskset awk nproc; do
    command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
[ -x "$pgtls" ] || missing="$missing $pgtls"
[ -x "$load" ] || missing="$missing $load"
if [ -n "$missing" ]; then
    echo "multicore: missing:$missing (Debian: apt-get install openssl util-linux gawk; the pgtls binaries come from bench/multicore.sh --pack)" >&2
    exit 2
fi
for b in "$pgtls" "$load"; do
    nf=$(ldd "$b" 2>/dev/null | awk '/not found/ { print $1 }' | tr '\n' ' ')
    if [ -n "$nf" ]; then
        echo "multicore: $b needs shared libraries that are missing: $nf(install them, e.g. Debian libssl3 libpq5 libjansson4 libinih1)" >&2
        exit 2
    fi
done
pgbin=${PGBIN:-/usr/lib/postgresql/15/bin}
pg_ok=1
pg_why=""
if [ ! -x "$pgbin/postgres" ] || [ ! -x "$pgbin/initdb" ] || [ ! -x "$pgbin/pg_ctl" ]; then
    pg_ok=0; pg_why="no PostgreSQL server binaries in $pgbin (Debian postgresql-15, or PGBIN=...)"
fi
pg_as=""
if [ "$pg_ok" = 1 ] && [ "$(id -u)" = 0 ]; then
    if id postgres >/dev/null 2>&1; then pg_user=postgres; else pg_user=nobody; fi
    if command -v runuser >/dev/null 2>&1; then pg_as="runuser -u $pg_user --"
    elif command -v setpriv >/dev/null 2>&1; then
        pg_as="setpriv --reuid=$(id -u $pg_user) --regid=$(id -g $pg_user) --clear-groups --"
    else pg_ok=0; pg_why="running as root without runuser or setpriv to drop to $pg_user"; fi
fi

ncpu=$(nproc)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pgtls-mc.XXXXXX")
chmod 755 "$tmp"
mock_pid=""
pgdata=""
cleanup() {
    [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null || true
    if [ -n "$pgdata" ]; then $pg_as "$pgbin/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
raw=$res/raw.txt
: > "$raw"
log() { echo "$*" >> "$raw"; }

if [ -z "$fx" ]; then
    fx=$tmp/fx
    "$pgtls" ca gen --out "$fx" >/dev/null
fi
chain=$(awk -v s="$scenario" '
    BEGIN { RS = "\0" } { t = $0 }
    END {
        i = index(t, "\"" s "\": {"); u = substr(t, i); j = index(u, "\"chain\": \"");
        u = substr(u, j + 10); print substr(u, 1, index(u, "\"") - 1) }' "$fx/index.json")
pem=$fx/chains/$chain.pem
leafname=$(awk -v c="$chain" '
    BEGIN { RS = "\0" } { t = $0 }
    END { i = index(t, "\"" c "\": {"); u = substr(t, i); j = index(u, "\"leaf\": \"");
          u = substr(u, j + 9); print substr(u, 1, index(u, "\"") - 1) }' "$fx/index.json")
key=$fx/keys/$leafname.key
[ -f "$pem" ] && [ -f "$key" ] || { echo "multicore: cannot find the $scenario chain/key in $fx" >&2; exit 2; }

# cores: 1 2 4 8 ... up to half the machine, then all of it (shared with the load)
counts=""
n=1
while [ "$n" -le $((ncpu / 2)) ]; do counts="$counts $n"; n=$((n * 2)); done
[ $((ncpu * 3 / 4)) -gt $((ncpu / 2)) ] && counts="$counts $((ncpu * 3 / 4))"
counts="$counts $ncpu"

cpu_of() { # pid [children] -> CPU seconds
    awk -v c="${2:-0}" -v hz="$(getconf CLK_TCK)" '{
        sub(/^.*\) /, ""); t = $12 + $13; if (c) t += $14 + $15; printf "%.3f\n", t / hz }' "/proc/$1/stat"
}
kids_of() { awk -v p="$1" '$4 == p' /proc/[0-9]*/stat 2>/dev/null | wc -l; }
threads_of() { awk '/^Threads:/ { print $2 }' "/proc/$1/status"; }
settle() { # pid kind baseline: wait (<= 10 s) for connections to end
    i=0
    while [ $i -lt 200 ]; do
        if [ "$2" = pg ]; then v=$(kids_of "$1"); else v=$(threads_of "$1"); fi
        [ "$v" -le "$3" ] && return 0
        sleep 0.05; i=$((i + 1))
    done
}
range() { # first count -> "a-b"
    if [ "$2" -le 0 ]; then echo ""; else echo "$1-$(($1 + $2 - 1))"; fi
}

# load: P processes on the cores the server does not use
drive() { # port mode servercores user -> "ok rate failed"
    srv=$3
    lc=$((ncpu - srv)); first=$srv
    if [ "$lc" -lt 1 ]; then lc=$ncpu; first=0; fi
    procs=$lc; [ "$procs" -gt 8 ] && procs=8
    conc=$(( (srv * 6 + procs - 1) / procs )); [ "$conc" -lt 4 ] && conc=4
    cpus=$(range "$first" "$lc")
    i=0
    while [ $i -lt "$procs" ]; do
        taskset -c "$cpus" "$load" "$2" "$1" -c "$conc" -t "$secs" -g P-256 -u "$4" > "$tmp/load.$i" 2>>"$tmp/load.err" &
        i=$((i + 1))
    done
    wait
    cat "$tmp"/load.[0-9]* | awk '{ ok += $1; s = ($2 > s ? $2 : s); f += $4 }
        END { printf "%d %.0f %d\n", ok, (s > 0 ? ok / s : 0), f }'
    rm -f "$tmp"/load.[0-9]*
}

measure() { # pid kind port mode cores user -> "rate cpu_us_per_hs busy_cores failed"
    settle "$1" "$2" "$base"
    c0=$(cpu_of "$1" "$([ "$2" = pg ] && echo 1 || echo 0)")
    t0=$(date +%s.%N)
    out=$(drive "$3" "$4" "$5" "$6")
    settle "$1" "$2" "$base"
    t1=$(date +%s.%N)
    c1=$(cpu_of "$1" "$([ "$2" = pg ] && echo 1 || echo 0)")
    log "$2 $4 cores=$5 load: $out cpu: $c0 -> $c1"
    echo "$out" | awk -v c0="$c0" -v c1="$c1" -v s="$secs" '{
        us = ($1 > 0 ? (c1 - c0) / $1 * 1e6 : 0); printf "%s %.0f %.1f %s\n", $2, us, (c1 - c0) / s, $3 }'
}

floor_rate() { # cores -> handshakes/s the floor allows (RSA-2048 sign + P-256 ECDH)
    openssl speed -mr -multi "$1" -seconds 3 rsa2048 ecdhp256 2>/dev/null | tee -a "$raw" | awk -F: '
        /^\+F2:/ && $3 == 2048 { sign = $4 } /^\+F5:/ && $3 == 256 { ecdh = $4 }
        END { if (sign > 0 && ecdh > 0) printf "%.0f %.0f %.0f\n", 1 / (1 / sign + 1 / ecdh), sign, ecdh; else print "0 0 0" }'
}

start_mock() { # cores
    : > "$tmp/mock.out"
    taskset -c "$(range 0 "$1")" "$pgtls" mock --fixtures "$fx" --scenario "$scenario" --port 0 \
        --set auth=trust --event-log "$tmp/events.jsonl" --max-connections 10000 > "$tmp/mock.out" 2>&1 &
    mock_pid=$!
    i=0
    until grep -q "port=" "$tmp/mock.out"; do
        i=$((i + 1)); [ $i -gt 200 ] && { cat "$tmp/mock.out" >&2; exit 2; }
        sleep 0.05
    done
    mock_port=$(sed -n 's/.* port=\([0-9]*\).*/\1/p' "$tmp/mock.out" | head -1)
}

start_pg() { # cores
    pgdata=$tmp/pgdata
    rm -rf "$pgdata"
    mkdir -m 700 "$pgdata"
    cp "$pem" "$tmp/server.crt"; cp "$key" "$tmp/server.key"; chmod 600 "$tmp/server.key"
    if [ -n "$pg_as" ]; then chown "$pg_user" "$pgdata" "$tmp/server.crt" "$tmp/server.key"; fi
    $pg_as "$pgbin/initdb" -D "$pgdata" -A trust >/dev/null 2>&1 || { pg_why="initdb failed"; return 1; }
    pg_port=$(awk 'BEGIN { srand(); print 20000 + int(rand() * 20000) }')
    cat >> "$pgdata/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$pgdata'
ssl = on
ssl_cert_file = '$tmp/server.crt'
ssl_key_file = '$tmp/server.key'
max_connections = 1000
fsync = off
autovacuum = off
log_min_messages = fatal
CONF
    echo "hostssl all all 127.0.0.1/32 trust" > "$pgdata/pg_hba.conf"
    taskset -c "$(range 0 "$1")" $pg_as "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/pg.log" -w start >/dev/null \
        || { pg_why="PostgreSQL did not start: $(tail -1 "$pgdata/pg.log")"; return 1; }
    pg_pid=$(head -1 "$pgdata/postmaster.pid")
}

stop_pg() {
    $pg_as "$pgbin/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true
    pgdata=""
}

started=$(date +%s)
md=$res/multicore.md
{
    echo "# pgtls multicore handshakes ($(date -u '+%Y-%m-%d %H:%M UTC'), $ncpu cores: $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo))"
    echo
    echo "$(openssl version); $( [ "$pg_ok" = 1 ] && "$pgbin/postgres" --version || echo "PostgreSQL: $pg_why"); scenario $scenario (RSA-2048 leaf, 3 certificates), TLS 1.3, P-256 key exchange (PostgreSQL 15's only kind), no resumption; ${secs} s per cell."
    echo "Server on cores 0..N-1, load generators (up to 8 processes of pgtls-load) on the others; rows marked * share all cores with the load."
    echo "floor = handshakes/s that \`openssl speed -multi N\` RSA-2048 sign + P-256 ECDH allow. CPU = server CPU µs per handshake (/proc)."
    echo
    echo "| cores | floor/s | SSLRequest handshake: mock/s | mock/floor | mock CPU µs | PostgreSQL/s | PG CPU µs | mock/PG | to ReadyForQuery: mock/s | mock CPU µs | PostgreSQL/s | PG CPU µs | mock/PG |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
} > "$md"

for n in $counts; do
    mark=""; [ "$n" -ge "$ncpu" ] && mark="*"
    set -- $(floor_rate "$n"); floor=$1
    start_mock "$n"; base=$(threads_of "$mock_pid")
    set -- $(measure "$mock_pid" mock "$mock_port" sslrequest "$n" pgtls); m_hs=$1; m_hs_us=$2
    set -- $(measure "$mock_pid" mock "$mock_port" startup "$n" pgtls); m_st=$1; m_st_us=$2
    kill "$mock_pid"; wait "$mock_pid" 2>/dev/null || true; mock_pid=""
    p_hs=—; p_hs_us=—; p_st=—; p_st_us=—
    if [ "$pg_ok" = 1 ] && start_pg "$n"; then
        base=$(kids_of "$pg_pid")
        set -- $(measure "$pg_pid" pg "$pg_port" sslrequest "$n" postgres); p_hs=$1; p_hs_us=$2
        set -- $(measure "$pg_pid" pg "$pg_port" startup "$n" postgres); p_st=$1; p_st_us=$2
        stop_pg
    fi
    r() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 > 0 && a + 0 > 0) printf "%.2f", a / b; else print "—" }'; }
    echo "| $n$mark | $floor | $m_hs | $(r "$m_hs" "$floor") | $m_hs_us | $p_hs | $p_hs_us | $(r "$m_hs" "$p_hs") | $m_st | $m_st_us | $p_st | $p_st_us | $(r "$m_st" "$p_st") |" >> "$md"
    tail -1 "$md"
done
{
    echo
    [ "$pg_ok" = 1 ] || echo "PostgreSQL columns empty: $pg_why."
    [ -s "$tmp/load.err" ] && echo "load generator notes: $(sort -u "$tmp/load.err" | head -3 | tr '\n' ' ')"
    echo "total run time: $(( $(date +%s) - started )) s"
} >> "$md"
cat "$md"
