"""cli_flows.py — the parent's commands as a parent types them.

Real slapd, SMTP sink and portaild; the portail CLI run both in its
scripted shapes (--send-code, --code, --password-stdin) and interactively
on a pseudo-terminal (pexpect), reading each code from the delivered
mail. Prints TAP. Run with Debian's /usr/bin/python3 (pexpect).
"""
import email
import email.policy
import glob
import json
import os
import re
import subprocess
import sys
import time

import pexpect
import signal

# The terminal's signals with their default action in every child, whatever this test
# inherited: a shell runs a background job with SIGINT and SIGQUIT ignored, nohup SIGHUP,
# and portail rightly keeps an inherited ignore (a ^C that comes before its prompt is ready
# would then be lost, and the test hang).
for _sig in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTERM):
    signal.signal(_sig, signal.SIG_DFL)

TOP = os.environ["top_srcdir"]
BUILD = os.environ["top_builddir"]
TMP = os.environ["PORTAIL_TEST_TMP"]
P = os.path.join(BUILD, "cli", "portail")
FIX = os.path.join(TOP, "tests", "fixtures")
GOOD = "Quatre-chevaux-bleus-dansent"
OTHER = "Un-ciel-de-mars-sur-Gaspe"

n = 0
failed = 0


def ok(cond, desc, detail=""):
    global n, failed
    n += 1
    if cond:
        print("ok %d - %s" % (n, desc))
    else:
        failed += 1
        print("not ok %d - %s" % (n, desc))
        for line in str(detail).splitlines()[:20]:
            print("# " + line)
    sys.stdout.flush()


def sh(*args, **kw):
    return subprocess.run(list(args), capture_output=True, text=True, **kw)


def portail(*args, stdin=None, user=None):
    cmd = [P, "-c", CONF] + list(args)
    if user:
        cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True)


def delivery_order(path):
    """Maildir names are <seconds>.M<microseconds>P…, microseconds not padded."""
    m = re.match(r"(\d+)\.M(\d+)", os.path.basename(path))
    return (int(m.group(1)), int(m.group(2)), path) if m else (0, 0, path)


def mails(to):
    out = []
    for path in sorted(glob.glob(os.path.join(TMP, "sink", "mail", "new", "*")), key=delivery_order):
        with open(path, "rb") as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        if msg["X-RcptTo"] == to:
            out.append(msg)
    return out


def wait_code(to, count):
    """The code in the count-th message to `to`, on a line of its own."""
    for _ in range(400):
        got = mails(to)
        if len(got) >= count:
            body = got[count - 1].get_content()
            m = re.search(r"^    ([0-9a-f]{6})$", body, re.M)
            return m.group(1) if m else None
        time.sleep(0.05)
    return None


# ---- the sandbox ------------------------------------------------------------------
slapd_dir = os.path.join(TMP, "slapd")
uri = sh(os.path.join(FIX, "slapd.sh"), "start", slapd_dir).stdout.strip()
smtp = sh(os.path.join(FIX, "smtp-sink.sh"), "start", os.path.join(TMP, "sink")).stdout.strip()
oidc = sh(os.path.join(FIX, "oidc.sh"), "start", os.path.join(TMP, "oidc")).stdout.strip()
with open(os.path.join(TMP, "oidc", "tokens.json")) as f:
    TOKENS = json.load(f)
with open(os.path.join(TMP, "oidc", "idtokens.json")) as f:
    IDTOKENS = json.load(f)
with open(os.path.join(TMP, "fb.secret"), "w") as f:
    f.write("fb-app-secret\n")
os.chmod(os.path.join(TMP, "fb.secret"), 0o600)
CONF = os.path.join(TMP, "portail.conf")
with open(CONF, "w") as f:
    f.write("""[gpi]
uri = {uri}
base = dc=exemple,dc=qc,dc=ca
bind_dn = cn=portail,ou=services,dc=exemple,dc=qc,dc=ca
bind_password_file = {tmp}/slapd/bind.pw
subscribed_schools = 751001 751501
[daemon]
socket = {tmp}/run/portaild.sock
user = {user}
[store]
path = {tmp}/state/portail.db
[security]
key_file = {tmp}/etc/secret.key
[codes]
resend_interval = 0
[password]
argon2_memlimit = 8192
argon2_opslimit = 1
[mail]
url = {smtp}
starttls = no
[provider.google]
kind = google
client_id = portail
tokeninfo_url = {oidc}/tokeninfo
userinfo_url = {oidc}/me
[provider.facebook]
kind = facebook
client_id = 424242
client_secret_file = {tmp}/fb.secret
debug_token_url = {oidc}/fb/debug_token
userinfo_url = {oidc}/fb/me
[provider.linkedin]
kind = linkedin
client_id = portail
userinfo_url = {oidc}/me
issuer = {oidc}
jwks_url = {oidc}/jwks
""".format(uri=uri, tmp=TMP, smtp=smtp, oidc=oidc, user=os.environ["PORTAIL_TEST_USER"]))
os.chmod(CONF, 0o644)
ok(portail("init").returncode == 0, "portail init")
os.makedirs(os.path.join(TMP, "daemon"), exist_ok=True)
log = open(os.path.join(TMP, "daemon", "log"), "w")
daemon = subprocess.Popen([os.path.join(BUILD, "portaild", "portaild"), "-f", "-c", CONF],
                          stderr=log, stdout=log)
with open(os.path.join(TMP, "daemon", "pid"), "w") as f:
    f.write("%d\n" % daemon.pid)
for _ in range(200):
    if "ready on" in open(os.path.join(TMP, "daemon", "log")).read():
        break
    time.sleep(0.05)
else:
    print("Bail out! portaild did not start")
    sys.exit(99)

# ---- scripted sign-up ------------------------------------------------------------------
A = "chantal.gagnon@exemple.ca"
r = portail("signup", "--email", A, "--send-code")
ok(r.returncode == 0 and "un code de vérification vient d'y être envoyé" in r.stdout,
   "signup --send-code: the same answer for everyone", r.stdout + r.stderr)
r2 = portail("signup", "--email", "personne@exemple.ca", "--send-code")
ok(r2.returncode == 0 and r2.stdout == r.stdout, "unknown address: same answer, same exit", r2.stdout)
code = wait_code(A, 1)
ok(code is not None, "the code arrives by mail")
r = portail("signup", "--email", A, "--code", code, "--password-stdin", stdin="password1\npassword1\n")
ok(r.returncode == 1 and "dictionnaire" in r.stderr, "a dictionary word is refused (exit 1)", r.stderr)
r = portail("signup", "--email", A, "--code", code, "--password-stdin", stdin=GOOD + "\n" + OTHER + "\n")
ok(r.returncode == 1 and "confirmation" in r.stderr, "a different confirmation is refused", r.stderr)
r = portail("signup", "--email", A, "--code", code, "--password-stdin", stdin=GOOD + "\n")
ok(r.returncode == 2, "one line instead of two: usage error", r.stderr)
r = portail("signup", "--email", A, "--code", code, "--password-stdin", stdin=GOOD + "\n" + GOOD + "\n")
ok(r.returncode == 0 and "Votre compte est créé" in r.stdout, "the account is created (exit 0)",
   r.stdout + r.stderr)
r = portail("signup", "--email", A, "--code", code)
ok(r.returncode == 2, "--code without --password-stdin: usage (no password on the command line)")
r = portail("signup", "--password-stdin")
ok(r.returncode == 2, "--password-stdin alone: usage")

# ---- auth --------------------------------------------------------------------------
r = portail("auth", "Chantal.Gagnon@Exemple.ca", "--password-stdin", stdin=GOOD + "\n")
ok(r.returncode == 0, "auth: right password (exit 0)", r.stdout + r.stderr)
r = portail("auth", A, "--password-stdin", stdin="mauvais\n")
ok(r.returncode == 1 and "incorrect" in r.stderr, "auth: wrong password (exit 1)", r.stderr)
r = portail("--lang", "en", "auth", "nobody@exemple.ca", "--password-stdin", stdin="x\n")
ok(r.returncode == 1 and "No active account" in r.stderr, "auth: unknown address, in English", r.stderr)
r = portail("auth", A, "--password-stdin", stdin=GOOD + "\n", user=65534)
ok(r.returncode == 0, "auth as an ordinary user (the daemon holds the secrets)", r.stderr)

# ---- accounts (admin) ------------------------------------------------------------------
r = portail("account", "list")
ok(r.returncode == 0 and A in r.stdout, "account list", r.stdout + r.stderr)
r = portail("--json", "account", "show", A)
ok(r.returncode == 0 and "argon2" not in r.stdout and json.loads(r.stdout)["account"]["has_password"],
   "account show: no hash", r.stdout)
r = portail("account", "list", user=65534)
ok(r.returncode == 1 and "administrateurs" in r.stderr, "account list as an ordinary user: refused",
   r.stderr)
r = portail("account", "disable", A)
ok(r.returncode == 0 and "désactivé" in r.stdout, "account disable", r.stdout)
r = portail("auth", A, "--password-stdin", stdin=GOOD + "\n")
ok(r.returncode == 1 and "désactivé" in r.stderr, "auth on a disabled account", r.stderr)
ok(portail("account", "enable", A).returncode == 0, "account enable")
ok(portail("account", "frobnicate", A).returncode == 2, "account: unknown verb is usage")

# ---- scripted reset ---------------------------------------------------------------------
r = portail("reset", "--email", A, "--send-code")
ok(r.returncode == 0, "reset --send-code")
code = wait_code(A, 3)       # code, account created, code
r = portail("reset", "--email", A, "--code", code, "--password-stdin", stdin=OTHER + "\n" + OTHER + "\n")
ok(r.returncode == 0 and "mot de passe est changé" in r.stdout, "reset saves the new password",
   r.stdout + r.stderr)
r = portail("auth", A, "--password-stdin", stdin=OTHER + "\n")
ok(r.returncode == 0, "the new password signs in")

# ---- interactive sign-up on a terminal ------------------------------------------------------
M = "marc.roy@exemple.ca"
MR = "Marc.Roy@Exemple.CA"    # the record's spelling: where mail goes (DESIGN §2)
child = pexpect.spawn(P, ["-c", CONF, "signup"], encoding="utf-8", timeout=20)
transcript = []
child.logfile_read = type("L", (), {"write": lambda self, s: transcript.append(s),
                                    "flush": lambda self: None})()
try:
    child.expect("Complétez les informations suivantes")
    child.expect("Le courriel doit être celui que vous avez fourni à l'école")
    child.expect("Courriel : ")
    child.sendline(M)
    child.expect(r"\[Obtenir un code de vérification\]")
    child.expect("Code de vérification")
    first = wait_code(MR, 1)
    child.sendline("n")
    child.expect(r"\[Obtenir un nouveau code\]")
    child.expect("Code de vérification")
    second = wait_code(MR, 2)
    if first != second:
        child.sendline(first)            # the old code is dead
        child.expect("pas le bon")
        child.expect("Code de vérification")
    child.sendline(second.upper())
    child.expect(r"\[Vérifier le code\]")
    child.expect("Nouveau mot de passe : ")
    child.sendline(GOOD)
    child.expect("Confirmation : ")
    child.sendline(GOOD)
    child.expect(r"\[Enregistrer\]")
    child.expect("Votre compte est créé")
    child.expect(pexpect.EOF)
    child.close()
    ok(child.exitstatus == 0, "interactive sign-up: every screen, new code, save")
except (pexpect.TIMEOUT, pexpect.EOF, TypeError, AttributeError) as e:
    ok(False, "interactive sign-up: every screen, new code, save", "".join(transcript) + repr(e))
ok(GOOD not in "".join(transcript), "the password is never echoed")
r = portail("auth", M, "--password-stdin", stdin=GOOD + "\n")
ok(r.returncode == 0, "the interactive account signs in", r.stderr)

# ---- interactive reset: Modifier le courriel ------------------------------------------------
J = "julie.cote@exemple.ca"
child = pexpect.spawn(P, ["-c", CONF, "--lang", "en", "reset", "--email", "wrong@exemple.ca"],
                      encoding="utf-8", timeout=20)
transcript = []
child.logfile_read = type("L", (), {"write": lambda self, s: transcript.append(s),
                                    "flush": lambda self: None})()
try:
    child.expect("Verification code")
    child.sendline("c")
    child.expect(r"\[Change the e-mail address\]")
    child.expect("E-mail: ")
    child.sendline(M)
    child.expect("Verification code")
    code = wait_code(MR, 4)     # two codes, notice, reset code
    child.sendline(code)
    child.expect("New password: ")
    child.sendline(OTHER)
    child.expect("Confirmation: ")
    child.sendline(OTHER)
    child.expect("Your password is changed")
    child.expect(pexpect.EOF)
    child.close()
    ok(child.exitstatus == 0, "interactive reset in English, with Change the e-mail address")
except (pexpect.TIMEOUT, pexpect.EOF, TypeError, AttributeError) as e:
    ok(False, "interactive reset in English, with Change the e-mail address",
       "".join(transcript) + repr(e))

# ---- Annuler: Ctrl-C leaves nothing behind -------------------------------------------------
child = pexpect.spawn(P, ["-c", CONF, "signup", "--email", J], encoding="utf-8", timeout=20)
try:
    child.expect("Code de vérification")
    child.sendline(wait_code(J, 1))
    child.expect("Nouveau mot de passe : ")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    ok(child.exitstatus != 0 or child.signalstatus is not None, "Ctrl-C cancels")
except (pexpect.TIMEOUT, pexpect.EOF) as e:
    ok(False, "Ctrl-C cancels", repr(e))
r = portail("account", "show", J)
ok(r.returncode == 1, "no account after Annuler", r.stdout)

# ---- the dialog's tries (lib/dialog.c, the PAM module's too): 12 answers at the code prompt
child = pexpect.spawn(P, ["-c", CONF, "reset", "--email", "personne@exemple.ca"], encoding="utf-8",
                      timeout=20)
transcript = []
child.logfile_read = type("L", (), {"write": lambda self, s: transcript.append(s),
                                    "flush": lambda self: None})()
try:
    for i in range(12):
        child.expect(r"Code de vérification \(n : obtenir un nouveau code, c : modifier le courriel\) : ")
        child.sendline("" if i == 0 else "000000")   # an empty answer is asked again, not spent
        if i == 0:
            child.expect("Code de vérification")
            child.sendline("000000")
    child.expect("Trop d'essais")
    child.expect(pexpect.EOF)
    child.close()
    ok(child.exitstatus == 1, "twelve wrong codes end the dialog, refused (exit 1)",
       "".join(transcript) + " exit %r" % child.exitstatus)
except (pexpect.TIMEOUT, pexpect.EOF) as e:
    ok(False, "twelve wrong codes end the dialog, refused (exit 1)", "".join(transcript) + repr(e))

# ---- link: social accounts ---------------------------------------------------------------------
n_j = len(mails(J))
r = portail("link", "--provider", "google", "--access-token", TOKENS["julie"], "--email", J,
            "--send-code")
m = re.search(r"^(ptt_[A-Za-z0-9_-]{43})$", r.stdout, re.M)
ok(r.returncode == 0 and "un code de vérification vient d'y être envoyé" in r.stdout and m,
   "link --send-code: Google vouches for another address, so a code and a link ticket",
   r.stdout + r.stderr)
code = wait_code(J, n_j + 1)
r = portail("link", "--link-ticket", m.group(1) if m else "x", "--email", J, "--code", code or "x")
ok(r.returncode == 0 and "Votre compte est créé et lié à" in r.stdout,
   "link --code: linked, with a new account", r.stdout + r.stderr)
r = portail("link", "--provider", "google", "--access-token", TOKENS["julie"])
ok(r.returncode == 0 and "Connexion acceptée avec google : " + J in r.stdout,
   "then the provider signs her in", r.stdout + r.stderr)
r = portail("link", "--provider", "google", "--access-token", TOKENS["chantal"], "--email", A,
            "--send-code", "--remember", "iPhone")
ok(r.returncode == 0 and "Votre compte est lié à google" in r.stdout and
   re.search(r"^ptk_[A-Za-z0-9_-]{43}$", r.stdout, re.M),
   "vouched and equal: linked at once, and --remember issues a token", r.stdout + r.stderr)
r = portail("link", "--provider", "google", "--access-token", TOKENS["revoked"])
ok(r.returncode == 1 and "pas confirmé" in r.stderr, "a revoked provider token is refused (exit 1)",
   r.stdout + r.stderr)
r = portail("--lang", "en", "link", "--provider", "myspace", "--access-token", "x")
ok(r.returncode == 1 and "not offered" in r.stderr, "an unknown provider, in English", r.stderr)
# issue 11: LinkedIn's access tokens name no application; its ID token does
r = portail("link", "--provider", "linkedin", "--access-token", TOKENS["chantal"])
ok(r.returncode == 1 and "jeton d'identité" in r.stderr and "navigateur" in r.stderr,
   "link: a LinkedIn access token is refused, naming the ID token and the browser", r.stderr)
r = portail("link", "--provider", "linkedin", "--id-token", IDTOKENS["chantal"],
            "--nonce", "nonce-portail", "--email", A, "--send-code")
ok(r.returncode == 0 and "Votre compte est lié à linkedin" in r.stdout,
   "link --id-token --nonce: LinkedIn's ID token vouches, linked at once", r.stdout + r.stderr)
r = portail("link", "--provider", "linkedin", "--id-token", IDTOKENS["chantal"],
            "--nonce", "nonce-portail")
ok(r.returncode == 0 and "Connexion acceptée avec linkedin : " + A in r.stdout,
   "then its ID token signs her in", r.stdout + r.stderr)
r = portail("link", "--provider", "linkedin", "--id-token", IDTOKENS["other_client"],
            "--nonce", "nonce-portail")
ok(r.returncode == 1 and "pas confirmé" in r.stderr,
   "link --id-token: another application's ID token is refused (exit 1)", r.stdout + r.stderr)
r = portail("link", "--provider", "linkedin", "--id-token", IDTOKENS["chantal"],
            "--nonce", "another-sign-in")
ok(r.returncode == 1, "link --id-token: another sign-in's nonce is refused", r.stdout + r.stderr)
ok(portail("link", "--provider", "linkedin", "--id-token", "x").returncode == 2,
   "link --id-token without --nonce: usage")
ok(portail("link", "--provider", "linkedin", "--id-token", "x", "--nonce", "n",
           "--access-token", "y").returncode == 2, "link --id-token with --access-token: usage")
ok(portail("link").returncode == 2, "link without a provider: usage")
ok(portail("link", "--code", "123456").returncode == 2, "link --code without its ticket: usage")

# interactive: Facebook (never vouched), the token asked without echo, the address prefilled
n_a = len(mails(A))
child = pexpect.spawn(P, ["-c", CONF, "link", "--provider", "facebook"], encoding="utf-8",
                      timeout=20)
transcript = []
child.logfile_read = type("L", (), {"write": lambda self, s: transcript.append(s),
                                    "flush": lambda self: None})()
try:
    child.expect("Jeton d'accès du fournisseur : ")
    child.sendline(TOKENS["fb_chantal"])
    child.expect("Complétez les informations suivantes")
    child.expect("Le courriel doit être celui que vous avez fourni à l'école")
    child.expect(r"Courriel \[chantal.gagnon@exemple.ca\] : ")
    child.sendline("")
    child.expect("un code de vérification vient d'y être envoyé")
    child.expect("Code de vérification")
    child.sendline(wait_code(A, n_a + 1))
    child.expect(r"\[Vérifier le code\]")
    child.expect("Votre compte est lié à facebook")
    child.expect(pexpect.EOF)
    child.close()
    ok(child.exitstatus == 0, "interactive link: token asked, address prefilled, code, linked")
except (pexpect.TIMEOUT, pexpect.EOF, TypeError, AttributeError) as e:
    ok(False, "interactive link: token asked, address prefilled, code, linked",
       "".join(transcript) + repr(e))
ok(TOKENS["fb_chantal"] not in "".join(transcript), "the provider's token is never echoed")
r = portail("account", "show", A)
ok(r.returncode == 0 and "lié à : facebook google" in r.stdout, "account show lists the links",
   r.stdout + r.stderr)
r = portail("link", "--unlink", "--provider", "facebook", "--email", A)
ok(r.returncode == 0 and "retiré" in r.stdout, "link --unlink (admin)", r.stdout + r.stderr)
r = portail("link", "--unlink", "--provider", "facebook", "--email", A)
ok(r.returncode == 1, "unlinking again: not linked (exit 1)", r.stderr)

# ---- tokens ------------------------------------------------------------------------------------
r = portail("token", "issue", "--email", A, "--label", "iPhone", "--password-stdin", stdin=OTHER + "\n")
m = re.search(r"^(ptk_[A-Za-z0-9_-]{43})$", r.stdout, re.M)
ok(r.returncode == 0 and m is not None, "token issue shows the token once", r.stdout + r.stderr)
r = portail("token", "list", "--email", A, "--password-stdin", stdin=OTHER + "\n")
ok(r.returncode == 0 and "iPhone" in r.stdout and "ptk_" not in r.stdout,
   "token list: labels and dates, never the token", r.stdout + r.stderr)
r = portail("token", "issue", "--email", A, "--label", "x", "--password-stdin", stdin="mauvais\n")
ok(r.returncode == 1, "token issue with a wrong password is refused", r.stderr)
r = portail("token", "revoke", "--email", A, "--password-stdin", stdin=OTHER + "\n")
ok(r.returncode == 2, "token revoke needs --id or --all")
r = portail("token", "revoke", "--email", A, "--all", "--password-stdin", stdin=OTHER + "\n")
ok(r.returncode == 0, "token revoke --all", r.stderr)
r = portail("token", "list", "--email", A, "--password-stdin", stdin=OTHER + "\n")
ok(r.returncode == 0 and "iPhone" not in r.stdout, "no token left after --all", r.stdout)

# ---- a signal at the password prompt leaves the terminal's echo on ---------------------------
# Issue 11 item 8, as readpassphrase(3) does: caught, terminal restored, re-raised.
import resource
import signal
import termios


def echo_on(fd):
    return bool(termios.tcgetattr(fd)[3] & termios.ECHO)


def wait_echo_off(fd):
    """Whether echo went off: portail turns it off right after its prompt; polled, bounded."""
    for _ in range(250):
        if not echo_on(fd):
            return True
        time.sleep(0.02)
    return False


def prompt_then(sig):
    """portail auth at its password prompt gets sig; (exit signal, echo after, transcript)."""
    def preexec():
        # no core file from SIGQUIT; and the signal's default action, whatever this test
        # inherited (under nohup SIGHUP is ignored, and portail rightly keeps that)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(sig, signal.SIG_DFL)
    child = pexpect.spawn(P, ["-c", CONF, "auth", M], encoding="utf-8", timeout=20,
                          preexec_fn=preexec)
    tty = None
    try:
        child.expect("Mot de passe : ")
        # our own handle on the terminal, kept after the child is gone
        tty = os.open(os.readlink("/proc/%d/fd/0" % child.pid), os.O_RDWR | os.O_NOCTTY)
        off = wait_echo_off(tty)
        if sig == signal.SIGINT:
            child.sendintr()                # Ctrl-C, from the terminal
        else:
            child.kill(sig)
        # not EOF: our handle keeps the terminal open; and checked before
        # pexpect closes its side (that hangs the terminal up); a child
        # that does not die of it is a failure, never a hung test
        for _ in range(400):
            if not child.isalive():
                break
            time.sleep(0.05)
        if child.isalive():
            return "still alive after %s" % sig.name, off, echo_on(tty)
        return child.signalstatus, off, echo_on(tty)
    except (pexpect.TIMEOUT, pexpect.EOF, OSError) as e:
        return repr(e), None, None
    finally:
        if tty is not None:
            os.close(tty)
        child.close(force=True)


for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
    st, off, on = prompt_then(sig)
    ok(st == sig and off is True and on is True,
       "%s at the password prompt: dies of it, echo restored" % sig.name,
       "exit signal %r, echo off while prompting %r, echo after %r" % (st, off, on))

# Ctrl-Z: echo back on while stopped; continued, it asks again, echo off, and signs in.
# A stop is discarded in an orphaned process group (pexpect's child leads its session), so a
# small job-control shell runs portail in a foreground group of its own, as sh would.
JOBS = r"""
import os, signal, sys
signal.signal(signal.SIGTTOU, signal.SIG_IGN)
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    os.tcsetpgrp(0, os.getpgrp())
    signal.signal(signal.SIGTTOU, signal.SIG_DFL)
    os.execv(sys.argv[1], sys.argv[1:])
try:
    os.setpgid(pid, pid)
except OSError:
    pass
print("job %d" % pid, flush=True)
while True:
    _, st = os.waitpid(pid, os.WUNTRACED)
    if os.WIFSTOPPED(st):
        os.tcsetpgrp(0, os.getpgrp())
        print("stopped", flush=True)
        sys.stdin.readline()                # "fg"
        os.tcsetpgrp(0, pid)
        os.kill(pid, signal.SIGCONT)
    else:
        print("exit %d" % (os.WEXITSTATUS(st) if os.WIFEXITED(st) else -1), flush=True)
        break
"""
child = pexpect.spawn("/usr/bin/python3", ["-c", JOBS, P, "-c", CONF, "auth", M],
                      encoding="utf-8", timeout=20)
tty = None
desc = "SIGTSTP at the password prompt: echo on while stopped, asked again when continued"
try:
    child.expect(r"job (\d+)")
    job = int(child.match.group(1))
    child.expect("Mot de passe : ")
    tty = os.open(os.readlink("/proc/%d/fd/0" % job), os.O_RDWR | os.O_NOCTTY)
    off_first = wait_echo_off(tty)
    os.kill(job, signal.SIGTSTP)
    child.expect("stopped")
    on_while_stopped = echo_on(tty)
    child.sendline("fg")
    child.expect("Mot de passe : ")
    off_again = wait_echo_off(tty)
    child.sendline(OTHER)
    child.expect(r"exit (-?\d+)")
    rc = int(child.match.group(1))
    ok(off_first and on_while_stopped and off_again and rc == 0 and echo_on(tty), desc,
       "echo off %r, on while stopped %r, off again %r, exit %r" %
       (off_first, on_while_stopped, off_again, rc))
except (pexpect.TIMEOUT, pexpect.EOF, OSError) as e:
    ok(False, desc, repr(e) + " " + str(child.before))
finally:
    if tty is not None:
        os.close(tty)
    child.close(force=True)

# ---- status shows store and mail -------------------------------------------------------------
r = portail("status")
ok(r.returncode == 0 and "magasin : OK" in r.stdout and "courriel :" in r.stdout,
   "status shows the store and the mail queue", r.stdout)

with open(os.path.join(TMP, "daemon", "log")) as f:
    text = f.read()
ok(GOOD not in text and OTHER not in text and not re.search(r"pt[tk]_[A-Za-z0-9_-]{20}", text)
   and TOKENS["julie"] not in text and "fb-app-secret" not in text,
   "no password, ticket, token or provider secret in the daemon's log")

# ---- check probes the providers too ------------------------------------------------------------
r = portail("check")
ok(r.returncode == 0 and "fournisseurs : OK, google; facebook" in r.stdout,
   "check: each provider answers", r.stdout + r.stderr)
sh(os.path.join(FIX, "oidc.sh"), "stop", os.path.join(TMP, "oidc"))
r = portail("check")
ok(r.returncode == 3 and "fournisseurs : ÉCHEC" in r.stdout and "google: google unreachable" in r.stdout,
   "check: a provider down is unavailable (exit 3)", r.stdout + r.stderr)

daemon.terminate()
daemon.wait()
sh(os.path.join(FIX, "smtp-sink.sh"), "stop", os.path.join(TMP, "sink"))
sh(os.path.join(FIX, "oidc.sh"), "stop", os.path.join(TMP, "oidc"))
sh(os.path.join(FIX, "slapd.sh"), "stop", slapd_dir)
print("1..%d" % n)
sys.exit(1 if failed else 0)
