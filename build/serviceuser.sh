#!/usr/bin/env bash
# The SQL endpoint's OS user (conf/access.yaml: service_user), made at set-up on the embedded
# default. `pooling serve`, started as root, runs the endpoint as this user: it owns nothing but
# its spool and home, so even a command that escaped the access rule finds no key and no zone
# but the pools. The user needs to traverse to the interpreter, the venv and the repository:
# where a folder on the way is closed (/root is 0700), an ACL gives this user alone the right to
# pass through it (x, not read). Not root: nothing to do; the endpoint then runs as you and
# refuses to start if you can read the key or a zone other than the pools (see the README).
set -euo pipefail
user="$1"; shift
if [ "$(id -u)" != 0 ]; then
  echo "serviceuser: not root, no service user made (pooling serve runs as $(id -un))"
  exit 0
fi
if ! id -u "$user" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
  echo "serviceuser: made the system user $user"
fi
if ! command -v setfacl >/dev/null; then
  apt-get install -y -qq acl >/dev/null || (apt-get update -qq && apt-get install -y -qq acl >/dev/null)
fi
for target in "$@"; do
  path="$(readlink -f "$target")" dir=""
  IFS=/ read -ra parts <<<"${path#/}"
  for part in "${parts[@]}"; do  # from the top down: a closed folder hides all below it
    dir="$dir/$part"
    if ! runuser -u "$user" -- test -x "$dir"; then
      setfacl -m "u:$user:x" "$dir"
      echo "serviceuser: $user may now pass through $dir (ACL u:$user:x)"
    fi
  done
done
