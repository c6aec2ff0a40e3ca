#!/bin/sh
# bench_web.sh — portail-web's sign-in page through nginx, against the limit:
# the same nginx serving a static file of the same size, in the same run;
# then portail-web's resident memory with 1,000 idle connections.
#
#   bench/bench_web.sh [BUILDDIR]     (script/bench web runs it on build/bench)
#
# The sandbox is the tests' (tests/fixtures/parent.sh and web.sh: slapd, the
# SMTP sink, portaild, portail-web on a unix socket behind a private nginx
# running examples/nginx/portail-web.conf), under a temporary directory,
# everything stopped on exit. As root (portail-web and nginx drop to www-data).
#
# Throughput: wrk (one thread, $BENCH_WEB_CONNECTIONS connections, default 16)
# for $BENCH_WEB_SECONDS (default 3) on GET /connexion and on the static copy
# of its body, back to back: a pair; the order alternates from one pair to the
# next (the static file first in odd pairs). $BENCH_WEB_PAIRS pairs (default 7).
# Reported: the median (and quartiles) of each side's requests/s, and the
# median and IQR of the per-pair ratios page / static (bench/bench.h's way).
#
# Memory: $BENCH_WEB_IDLE connections (default 1000) opened straight on
# portail-web's socket (nginx's place), held idle — (a) connected and silent,
# (b) after one GET /connexion each, kept alive — and portail-web's VmRSS read
# from /proc while they are held; $BENCH_ROUNDS rounds of each (default 5),
# medians.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$top/build/bench}
[ -x "$B/web/portail-web" ] || { echo "bench_web.sh: no $B/web/portail-web (build first)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "bench_web.sh: wrk is not installed (script/bootstrap)" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "bench_web.sh: run as root (portail-web and nginx drop to www-data)" >&2; exit 2; }
PAIRS=${BENCH_WEB_PAIRS:-7}
SECS=${BENCH_WEB_SECONDS:-3}
CONNS=${BENCH_WEB_CONNECTIONS:-16}
IDLE=${BENCH_WEB_IDLE:-1000}
ROUNDS=${BENCH_ROUNDS:-5}

# the tests' fixtures, as run-test.sh gives them
top_srcdir=$top
top_builddir=$B
PORTAIL_TEST_TMP=$(mktemp -d /tmp/portail-bench-web.XXXXXX)
PORTAIL_TEST_USER=portail-bench
export PORTAIL_TEST_TMP PORTAIL_TEST_USER
chmod 755 "$PORTAIL_TEST_TMP"
sh "$top/tests/fixtures/system-user.sh" "$PORTAIL_TEST_USER"
cleanup() {
	trap - EXIT INT TERM
	find "$PORTAIL_TEST_TMP" -name pid -type f 2>/dev/null | while read -r pidfile; do
		"$top/tests/fixtures/stop-pid.sh" "$(cat "$pidfile")"
	done
	rm -rf "$PORTAIL_TEST_TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# the idle connections, and nginx's (a client's and an upstream one per request)
ulimit -n 8192 2>/dev/null || true

. "$top/tests/fixtures/parent.sh"
. "$top/tests/fixtures/web.sh"
SPORT=$(free_port)
[ "$SPORT" != "$PORT" ] || SPORT=$((PORT + 1))
NGINX_WORKER_CONNECTIONS=1024
NGINX_EXTRA="server {
		listen 127.0.0.1:$SPORT;
		root $N/static;
		location = /connexion { default_type \"text/html; charset=utf-8\"; try_files /connexion.html =404; }
	}"
web_sandbox >/dev/null
mkdir -p "$N/static"
curl -s -o "$N/static/connexion.html" "$BASE/connexion"
chmod 755 "$N/static"
chmod 644 "$N/static/connexion.html"
size=$(wc -c <"$N/static/connexion.html")
ssize=$(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:$SPORT/connexion")
[ "$size" -gt 1000 ] && [ "$size" = "$ssize" ] ||
    { echo "bench_web.sh: the page ($size bytes) and the static copy ($ssize) differ" >&2; exit 1; }
WPID=$(cat "$W/pid")

echo "## portail-web: the sign-in page through nginx (\`bench/bench_web.sh\`)"
echo
echo "GET /connexion ($size bytes of HTML, a new CSRF cookie each: wrk sends none) against nginx"
echo "serving the same $size bytes from a file, same nginx, same run; wrk -t1 -c$CONNS -d${SECS}s,"
echo "$PAIRS pairs, order alternating; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)."
echo
R="$T/wrk"
: >"$R.pairs"
one() {  # one URL → "requests/s p50_ms non2xx"
	wrk -t1 -c"$CONNS" -d"${SECS}s" --latency "$1" >"$R.out" 2>&1 || { cat "$R.out" >&2; exit 1; }
	awk '
		/Requests\/sec:/ { rps = $2 }
		/^ +50%/ { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); p = v / 1000 }
		    else if (v ~ /ms$/) { sub(/ms$/, "", v); p = v } else { sub(/s$/, "", v); p = v * 1000 } }
		/Non-2xx or 3xx responses:/ { bad = $5 }
		END { printf "%s %s %d\n", rps, p, bad }' "$R.out"
}
i=1
while [ $i -le "$PAIRS" ]; do
	if [ $((i % 2)) -eq 1 ]; then
		s=$(one "http://127.0.0.1:$SPORT/connexion"); d=$(one "$BASE/connexion")
	else
		d=$(one "$BASE/connexion"); s=$(one "http://127.0.0.1:$SPORT/connexion")
	fi
	echo "$d $s" >>"$R.pairs"
	i=$((i + 1))
done
# quantiles interpolated between ranks, as bench/bench.h's
awk '
	function q(a, n, p,   r, lo) { r = 1 + (n - 1) * p; lo = int(r); return lo >= n ? a[n] : a[lo] + (r - lo) * (a[lo + 1] - a[lo]) }
	function sort(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t } }
	{ n++; d[n] = $1; dp[n] = $2; bad += $3; s[n] = $4; sp[n] = $5; bad += $6; r[n] = $1 / $4 }
	END {
		sort(d, n); sort(s, n); sort(r, n); sort(dp, n); sort(sp, n)
		printf "| | requests/s (median) | q1 – q3 | p50 latency (median) |\n|---|---|---|---|\n"
		printf "| nginx → portail-web, GET /connexion | %.0f | %.0f – %.0f | %.2f ms |\n", q(d, n, .5), q(d, n, .25), q(d, n, .75), q(dp, n, .5)
		printf "| nginx, the same bytes from a file | %.0f | %.0f – %.0f | %.2f ms |\n", q(s, n, .5), q(s, n, .25), q(s, n, .75), q(sp, n, .5)
		printf "\n**page / static: %.2f×** (median of %d per-pair ratios; IQR %.2f, q1 %.2f, q3 %.2f; target ≥ 0.5×); non-2xx answers: %d\n",
		    q(r, n, .5), n, q(r, n, .75) - q(r, n, .25), q(r, n, .25), q(r, n, .75), bad
	}' "$R.pairs"
echo

echo "## portail-web: memory with $IDLE idle connections"
echo
/usr/bin/python3 - "$WSOCK" "$IDLE" "$WPID" "$ROUNDS" <<'PY'
import socket, statistics, sys, time
path, n, pid, rounds = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])

def rss():
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0

def get(s):
    s.sendall(b"GET /connexion HTTP/1.1\r\nHost: bench\r\n\r\n")
    buf = b""
    while b"\r\n\r\n" not in buf:
        c = s.recv(65536)
        if not c:
            return False
        buf += c
    head, body = buf.split(b"\r\n\r\n", 1)
    length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
    want = length[0] if length else 0
    while len(body) < want:
        c = s.recv(65536)
        if not c:
            return False
        body += c
    return head.startswith(b"HTTP/1.1 200")

def alive(conns):
    # a connection the server closed reads as EOF at once
    held = 0
    for s in conns:
        s.setblocking(False)
        try:
            held += 0 if s.recv(1) == b"" else 1
        except BlockingIOError:
            held += 1
        except OSError:
            pass
    return held

# the silent rounds first: the memory a kept-alive round touched stays with
# the process after its connections close (malloc keeps it), and would be
# counted again
res = {"silent": [], "kept": []}
base = []
for mode in ("silent", "kept"):
    for r in range(rounds):
        time.sleep(0.5)
        before = rss()
        conns, ok = [], 0
        for i in range(n):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            conns.append(s)
        if mode == "kept":
            ok = sum(1 for s in conns if get(s))
        time.sleep(0.5)    # let the server's threads take every connection in
        during = rss()
        held = alive(conns)
        for s in conns:
            s.close()
        base.append(before)
        res[mode].append((during, held, ok))
med = statistics.median
print("| portail-web VmRSS | median of %d rounds | min – max |" % rounds)
print("|---|---|---|")
print("| at the start, before any connection | %.1f MiB | |" % base[0])
for mode, what in (("silent", "%d connected, silent" % n), ("kept", "%d after one GET /connexion each, kept alive" % n)):
    v = [x[0] for x in res[mode]]
    print("| %s (held: %s) | %.1f MiB | %.1f – %.1f |" % (what, "/".join(str(x[1]) for x in res[mode]),
          med(v), min(v), max(v)))
ok = [x[2] for x in res["kept"]]
worst = max(max(x[0] for x in res["silent"]), max(x[0] for x in res["kept"]))
print("\n200 answers before idling: %s of %d per round; the largest RSS seen: %.1f MiB (target ≤ 32 MiB)" %
      ("/".join(map(str, ok)), n, worst))
PY
