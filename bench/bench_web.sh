#!/bin/sh
# bench_web.sh — portail-web's sign-in page through nginx, against the limit:
# the same nginx serving a static file of the same size, in the same run;
# /auth with a valid session through nginx's auth_request; a full sign-in
# POST against the bare argon2id verify; then portail-web's resident memory
# with 1,000 idle connections.
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
# /auth: after portaild is restarted with the default argon2id parameters and one
# sign-in (which rehashes the password to them and gives a session), wrk with that
# session cookie on locations nginx protects with auth_request (/auth on a connection
# per check, as examples/nginx/portail-app.conf; and on the upstream's kept connections),
# and on the same location unprotected: $BENCH_WEB_PAIRS rounds of the three, order
# rotating. Target: ≥ 10,000/s with p50 < 1 ms.
#
# Sign-in: $BENCH_WEB_SIGNINS (default 30) POST /connexion through nginx, each paired
# with a bare crypto_pwhash_str_verify of the same PHC string (read from the store) and
# password, order alternating; the median and IQR of the per-pair ratios (bench.h's way).
# Target: ≤ 1.05×.
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
SIGNINS=${BENCH_WEB_SIGNINS:-30}

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
# where web_dirs (inside web_sandbox) puts nginx and portail-web's socket: NGINX_EXTRA names them before
N="$T/nginx"
WSOCK="$T/web/run/web.sock"
NGINX_WORKER_CONNECTIONS=1024
# the static file; and a protected location of the kind examples/nginx/portail-app.conf
# makes, its "app" a 3-byte file (not return 200: that runs before auth_request), checked by /auth on a connection of its own
# per check (the example's proxy_pass http://unix:…), or on the upstream's kept ones; and the
# same location unprotected (the limit)
AUTH_HEADERS="proxy_pass_request_body off; proxy_set_header Content-Length \"\";
		    proxy_set_header Host \$http_host; proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
		    proxy_set_header X-Forwarded-Proto \$scheme; proxy_set_header Connection \"\";"
NGINX_EXTRA="server {
		listen 127.0.0.1:$SPORT;
		root $N/static;
		location = /connexion { default_type \"text/html; charset=utf-8\"; try_files /connexion.html =404; }
		location = /auth-example { internal; proxy_pass http://unix:$WSOCK:/auth; $AUTH_HEADERS }
		location = /auth-kept { internal; proxy_pass http://portail_web/auth; proxy_http_version 1.1;
		    $AUTH_HEADERS }
		location = /app-example { auth_request /auth-example; default_type text/plain; try_files /ok.txt =404; }
		location = /app-kept { auth_request /auth-kept; default_type text/plain; try_files /ok.txt =404; }
		location = /app-open { default_type text/plain; try_files /ok.txt =404; }
	}"
web_sandbox >/dev/null
# web_dirs picks $PORT inside web_sandbox: the two servers must not share one
[ "$WSOCK" = "$T/web/run/web.sock" ] || { echo "bench_web.sh: portail-web's socket moved: $WSOCK" >&2; exit 1; }
[ "$SPORT" != "$PORT" ] || { echo "bench_web.sh: nginx's two ports are the same ($PORT): run again" >&2; exit 1; }
mkdir -p "$N/static"
curl -s -o "$N/static/connexion.html" "$BASE/connexion"
chmod 755 "$N/static"
echo ok >"$N/static/ok.txt"
chmod 644 "$N/static/connexion.html" "$N/static/ok.txt"
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
one() {  # one URL [WRK-ARGS…] → "requests/s p50_ms non2xx"
	u=$1
	shift
	wrk -t1 -c"$CONNS" -d"${SECS}s" --latency "$@" "$u" >"$R.out" 2>&1 || { cat "$R.out" >&2; exit 1; }
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

# ---- /auth: a valid session, through nginx's auth_request ----------------------------------
# portaild again with the default argon2id parameters (the fixture's are the tests' small
# ones); the first sign-in rehashes the password to them (portaild's rehash on login)
sed -i -e '/^argon2_memlimit/d' -e '/^argon2_opslimit/d' "$T/portail.conf"
portaild_stop
portaild_start
CSRF=$(curl -s -D - -o /dev/null "$BASE/connexion" |
    sed -n 's/^Set-Cookie: __Host-portail-csrf=\([A-Za-z0-9_-]*\);.*/\1/p')
EMAIL_Q=$(printf '%s' "$A" | sed 's/@/%40/')
signin_once() {
	curl -s -D - -o /dev/null -H "Cookie: __Host-portail-csrf=$CSRF" \
	    --data-raw "csrf=$CSRF&email=$EMAIL_Q&password=$PW" "$BASE/connexion" |
	    sed -n 's/^Set-Cookie: __Host-portail=\(pts_[A-Za-z0-9_-]*\);.*/\1/p'
}
SESSION=$(signin_once)
PHC=$(sqlite3 "$T/state/portail.db" "SELECT password_hash FROM accounts WHERE email_key = '$A'")
case $PHC in
'$argon2id$v=19$m=65536,t=2,'*) ;;
*) echo "bench_web.sh: the password was not rehashed to the defaults: ${PHC%%,p=*}" >&2; exit 1 ;;
esac
[ "${#SESSION}" -eq 47 ] || { echo "bench_web.sh: no session from the sign-in" >&2; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: __Host-portail=$SESSION" \
    "http://127.0.0.1:$SPORT/app-kept")
[ "$code" = 200 ] || { echo "bench_web.sh: /app-kept with the session: $code" >&2; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SPORT/app-kept")
[ "$code" = 401 ] || { echo "bench_web.sh: /app-kept without a session: $code" >&2; exit 1; }

# portail-web again with /auth's cache at its default ([web] auth_cache_ms = 1000; the
# fixture turns it off for the tests); the cache-off figures come after the rounds
web_restart() {
	"$top/tests/fixtures/stop-pid.sh" "$(cat "$W/pid")"
	web_start "$T/web.conf" "$W"
	WPID=$(cat "$W/pid")
	# nginx's kept upstream connections went with the old process: one request each to renew them
	for k in 1 2 3 4; do curl -s -o /dev/null -H "Cookie: __Host-portail=$SESSION" \
	    "http://127.0.0.1:$SPORT/app-kept"; done
	code=$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: __Host-portail=$SESSION" \
	    "http://127.0.0.1:$SPORT/app-kept")
	[ "$code" = 200 ] || { echo "bench_web.sh: /app-kept after portail-web's restart: $code" >&2; exit 1; }
}
sed -i '/^auth_cache_ms = 0$/d' "$T/web.conf"
web_restart

echo "## portail-web: \`/auth\` with a valid session, through nginx's auth_request"
echo
echo "wrk -t1 -c$CONNS -d${SECS}s with the session cookie on a location nginx protects with"
echo "\`auth_request\` (its content a 3-byte file): each request is an nginx subrequest to"
echo "portail-web's /auth, which asks portaild (session.check). /auth on a connection of its own per"
echo "check (\`proxy_pass http://unix:…\`, as examples/nginx/portail-app.conf), and on the upstream's"
echo "kept connections (keepalive 16); the same location without auth_request as the limit."
echo "$PAIRS rounds of the three, order rotating; load average $(cut -d' ' -f1-3 /proc/loadavg)."
echo
: >"$R.auth"
COOKIE="Cookie: __Host-portail=$SESSION"
i=1
while [ $i -le "$PAIRS" ]; do
	case $((i % 3)) in
	1) k=$(one "http://127.0.0.1:$SPORT/app-kept" -H "$COOKIE"); e=$(one "http://127.0.0.1:$SPORT/app-example" -H "$COOKIE"); o=$(one "http://127.0.0.1:$SPORT/app-open" -H "$COOKIE") ;;
	2) e=$(one "http://127.0.0.1:$SPORT/app-example" -H "$COOKIE"); o=$(one "http://127.0.0.1:$SPORT/app-open" -H "$COOKIE"); k=$(one "http://127.0.0.1:$SPORT/app-kept" -H "$COOKIE") ;;
	0) o=$(one "http://127.0.0.1:$SPORT/app-open" -H "$COOKIE"); k=$(one "http://127.0.0.1:$SPORT/app-kept" -H "$COOKIE"); e=$(one "http://127.0.0.1:$SPORT/app-example" -H "$COOKIE") ;;
	esac
	echo "$k $e $o" >>"$R.auth"
	i=$((i + 1))
done
awk '
	function q(a, n, p,   r, lo) { r = 1 + (n - 1) * p; lo = int(r); return lo >= n ? a[n] : a[lo] + (r - lo) * (a[lo + 1] - a[lo]) }
	function sort(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t } }
	function all(a, n,   i, s) { s = ""; for (i = 1; i <= n; i++) s = s (i > 1 ? " / " : "") sprintf("%.0f", a[i]); return s }
	{ n++; k[n] = $1; kp[n] = $2; bad += $3; e[n] = $4; ep[n] = $5; bad += $6; o[n] = $7; op[n] = $8; bad += $9; r[n] = $1 / $7 }
	END {
		printf "| | requests/s (median) | each round | p50 latency (median) |\n|---|---|---|---|\n"
		ka = all(k, n); ea = all(e, n); oa = all(o, n)
		sort(k, n); sort(e, n); sort(o, n); sort(kp, n); sort(ep, n); sort(op, n); sort(r, n)
		printf "| auth_request → /auth, kept connections | %.0f | %s | %.2f ms |\n", q(k, n, .5), ka, q(kp, n, .5)
		printf "| auth_request → /auth, a connection per check (the example) | %.0f | %s | %.2f ms |\n", q(e, n, .5), ea, q(ep, n, .5)
		printf "| the same location, no auth_request | %.0f | %s | %.2f ms |\n", q(o, n, .5), oa, q(op, n, .5)
		printf "\n**/auth, kept connections: %.0f/s, p50 %.2f ms** (target ≥ 10,000/s with p50 < 1 ms); against the unprotected location %.2f× (median of %d per-round ratios, IQR %.2f); answers other than 200: %d\n",
		    q(k, n, .5), q(kp, n, .5), q(r, n, .5), n, q(r, n, .75) - q(r, n, .25), bad
	}' "$R.auth"
echo
# the same with the cache off: portaild asked for every check
sed -i 's/^\[web\]$/[web]\nauth_cache_ms = 0/' "$T/web.conf"
grep -q '^auth_cache_ms = 0$' "$T/web.conf" || { echo "bench_web.sh: could not turn the cache off" >&2; exit 1; }
web_restart
: >"$R.nocache"
i=1
while [ $i -le "$PAIRS" ]; do
	if [ $((i % 2)) -eq 1 ]; then
		k=$(one "http://127.0.0.1:$SPORT/app-kept" -H "$COOKIE"); o=$(one "http://127.0.0.1:$SPORT/app-open" -H "$COOKIE")
	else
		o=$(one "http://127.0.0.1:$SPORT/app-open" -H "$COOKIE"); k=$(one "http://127.0.0.1:$SPORT/app-kept" -H "$COOKIE")
	fi
	echo "$k $o" >>"$R.nocache"
	i=$((i + 1))
done
# and by the number of connections, cache off then on (one run each)
: >"$R.conc"
: >"$R.conc.on"
conns=$CONNS
for c in 1 4 8 16; do
	printf '%s ' "$c" >>"$R.conc"
	CONNS=$c
	one "http://127.0.0.1:$SPORT/app-kept" -H "$COOKIE" | tr '\n' ' ' >>"$R.conc"
done
sed -i '/^auth_cache_ms = 0$/d' "$T/web.conf"
web_restart
for c in 1 4 8 16; do
	CONNS=$c
	one "http://127.0.0.1:$SPORT/app-kept" -H "$COOKIE" >>"$R.conc.on"
done
CONNS=$conns
echo "With the cache off (\`auth_cache_ms = 0\`: a session.check in portaild for every check),"
echo "$PAIRS pairs of the kept-connection location and the unprotected one, order alternating:"
echo
awk '
	function q(a, n, p,   r, lo) { r = 1 + (n - 1) * p; lo = int(r); return lo >= n ? a[n] : a[lo] + (r - lo) * (a[lo + 1] - a[lo]) }
	function sort(a, n,   i, j, t) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t } }
	{ n++; k[n] = $1; kp[n] = $2; bad += $3; o[n] = $4; op[n] = $5; bad += $6; r[n] = $1 / $4 }
	END {
		sort(k, n); sort(o, n); sort(kp, n); sort(op, n); sort(r, n)
		printf "| | requests/s (median) | p50 latency (median) |\n|---|---|---|\n"
		printf "| auth_request → /auth, kept connections, cache off | %.0f | %.2f ms |\n", q(k, n, .5), q(kp, n, .5)
		printf "| the same location, no auth_request | %.0f | %.2f ms |\n", q(o, n, .5), q(op, n, .5)
		printf "\n**/auth without the cache: %.0f/s, p50 %.2f ms**; %.2f× the unprotected location; answers other than 200: %d\n",
		    q(k, n, .5), q(kp, n, .5), q(r, n, .5), bad
	}' "$R.nocache"
echo
echo "By the number of wrk connections (one ${SECS}s run each), kept upstream connections:"
echo
echo "| connections | cache on: requests/s | p50 | cache off: requests/s | p50 |"
echo "|---|---|---|---|---|"
tr ' ' '\n' <"$R.conc" | awk 'NF' | paste - - - - >"$R.conc.off"
paste "$R.conc.off" "$R.conc.on" | awk '{ printf "| %s | %.0f | %.2f ms | %.0f | %.2f ms |\n", $1, $5, $6, $2, $3 }'
echo

# ---- a full sign-in POST against the bare argon2id verify ---------------------------------
echo "## portail-web: a full sign-in POST against the bare argon2id verify"
echo
echo "POST /connexion through nginx (keep-alive, the CSRF cookie and field, the right password:"
echo "303 and a new session each), paired with a bare crypto_pwhash_str_verify (libsodium, in the"
echo "benchmark's process) of the same PHC string (${PHC%%\$v=*}, m=65536, t=2, p=1) and password, order"
echo "alternating; $SIGNINS pairs after one of each unmeasured; load average $(cut -d' ' -f1-3 /proc/loadavg)."
echo
/usr/bin/python3 - "$PORT" "$CSRF" "$A" "$PW" "$PHC" "$SIGNINS" <<'PY'
import ctypes, ctypes.util, http.client, statistics, sys, time, urllib.parse
port, csrf, email, pw, phc, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6])
so = ctypes.CDLL(ctypes.util.find_library("sodium") or "libsodium.so.23")
so.crypto_pwhash_str_verify.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulonglong]
assert so.sodium_init() >= 0    # picks the argon2 implementation portaild uses
body = urllib.parse.urlencode({"csrf": csrf, "email": email, "password": pw})
headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": "__Host-portail-csrf=" + csrf}
conn = http.client.HTTPConnection("127.0.0.1", port)
bad = 0

def post():
    global bad
    t = time.perf_counter()
    conn.request("POST", "/connexion", body, headers)
    r = conn.getresponse()
    r.read()
    dt = time.perf_counter() - t
    if r.status != 303 or not any(k.lower() == "set-cookie" and v.startswith("__Host-portail=pts_")
                                  for k, v in r.getheaders()):
        bad += 1
    return dt

def verify():
    t = time.perf_counter()
    rc = so.crypto_pwhash_str_verify(phc.encode(), pw.encode(), len(pw.encode()))
    dt = time.perf_counter() - t
    assert rc == 0
    return dt

post(), verify()
ps, vs, ratios, diffs = [], [], [], []
for i in range(n):
    if i % 2 == 0:
        p = post(); v = verify()
    else:
        v = verify(); p = post()
    ps.append(p * 1e3); vs.append(v * 1e3); ratios.append(p / v); diffs.append((p - v) * 1e3)
q = lambda a: statistics.quantiles(a, n=4, method="inclusive")
med = statistics.median
print("| | median | q1 – q3 |")
print("|---|---|---|")
print("| sign-in POST through nginx → portail-web → portaild | %.1f ms | %.1f – %.1f |" % (med(ps), q(ps)[0], q(ps)[2]))
print("| bare argon2id verify | %.1f ms | %.1f – %.1f |" % (med(vs), q(vs)[0], q(vs)[2]))
print("| per-pair difference | %.2f ms | %.2f – %.2f |" % (med(diffs), q(diffs)[0], q(diffs)[2]))
r = q(ratios)
print("\n**sign-in / verify: %.3f×** (median of %d per-pair ratios; IQR %.3f, q1 %.3f, q3 %.3f; target ≤ 1.05×); sign-ins that were not 303 with a session: %d"
      % (med(ratios), n, r[2] - r[0], r[0], r[2], bad))
PY
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
