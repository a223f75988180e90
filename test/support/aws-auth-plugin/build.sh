#!/usr/bin/env bash
# Builds the AWSAuthenticationPlugin stand-in (aws_auth_plugin.c) into the
# shared object named by the first argument, e.g.
#   bash test/support/aws-auth-plugin/build.sh /tmp/plugin/aws_auth_plugin.so
#
# Needs a C compiler, MariaDB's server headers and OpenSSL's headers and
# library (Debian: gcc libc6-dev libmariadbd-dev libssl-dev; .ci/install-test-deps
# installs them). MARIADB_SERVER_INCLUDE overrides where the server headers are
# (the directory that holds mysql/plugin_auth.h); CC overrides the compiler.
set -euo pipefail

out="${1:?usage: build.sh <output .so path>}"
here="$(cd "$(dirname "$0")" && pwd)"
cc="${CC:-cc}"

include="${MARIADB_SERVER_INCLUDE:-}"
if [ -z "$include" ]; then
  for dir in /usr/include/mariadb/server /usr/include/mysql/server /usr/local/include/mariadb/server; do
    if [ -f "$dir/mysql/plugin_auth.h" ]; then include="$dir"; break; fi
  done
fi
if [ -z "$include" ] || [ ! -f "$include/mysql/plugin_auth.h" ]; then
  echo "error: no MariaDB server headers (mysql/plugin_auth.h); apt-get install libmariadbd-dev" >&2
  exit 2
fi
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "error: no C compiler ($cc); apt-get install gcc libc6-dev" >&2
  exit 2
fi

"$cc" -std=gnu11 -O2 -Wall -Wextra -Werror -fPIC -shared -DMYSQL_DYNAMIC_PLUGIN \
  -I"$include" \
  -o "$out" "$here/aws_auth_plugin.c" -lcrypto -lpthread
