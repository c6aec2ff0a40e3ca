# script/lib.sh — shared by script/test and script/demo (sourced).
top=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc 2>/dev/null || echo 2)
# The tests' OpenID provider's npm modules (script/bootstrap installs them);
# tests/fixtures/oidc.sh finds them here even from make distcheck's copy.
PORTAIL_OIDC_MODULES="$top/tests/fixtures/oidc/node_modules"
export PORTAIL_OIDC_MODULES
# and the browser tests' (playwright-core, axe-core), for tests/browser.test
PORTAIL_BROWSER_MODULES="$top/tests/fixtures/browser/node_modules"
export PORTAIL_BROWSER_MODULES

# autoreconf when configure is missing or older than its inputs.
portail_autoreconf() {
	# Builds go to build/NAME; an in-tree configure blocks them.
	if [ -f "$top/config.status" ]; then
		echo "note: the source tree was configured in place; cleaning it (make distclean)"
		make -s -C "$top" distclean >/dev/null 2>&1 || rm -f "$top/config.status"
	fi
	if [ ! -x "$top/configure" ] || [ "$top/configure.ac" -nt "$top/configure" ] ||
	    [ "$top/Makefile.am" -nt "$top/Makefile.in" ]; then
		(cd "$top" && autoreconf -fi >/dev/null 2>&1) || {
			echo "autoreconf failed; run it by hand: cd $top && autoreconf -fi" >&2
			return 1
		}
	fi
}

# portail_build DIR [CONFIGURE ARGS…] — configure (again when the
# arguments changed) and build in DIR.
portail_build() {
	dir=$1
	shift
	mkdir -p "$dir"
	want="$*"
	if [ ! -f "$dir/Makefile" ] || [ "$(cat "$dir/.configure-args" 2>/dev/null)" != "$want" ] ||
	    [ "$top/configure" -nt "$dir/Makefile" ]; then
		(cd "$dir" && "$top/configure" -q "$@") || return 1
		echo "$want" >"$dir/.configure-args"
	fi
	make -s -C "$dir" -j"$jobs" >"$dir/build.log" 2>&1 || {
		tail -40 "$dir/build.log" >&2
		return 1
	}
}

# portail_sandbox_user NAME — the system user a sandbox's portaild runs as
# ([daemon] user): one of its own, created when missing (idempotent, safe
# in parallel), never nobody, whose other processes could read the key.
portail_sandbox_user() {
	sh "$top/tests/fixtures/system-user.sh" "$1"
}
