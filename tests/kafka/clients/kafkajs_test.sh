#!/usr/bin/env bash
#
# kafkajs (Node.js) against the broker's Kafka listener: makes sure
# kafkajs is in the build tree (tools/lib/deps.sh deps_kafkajs: from the
# npm registry, only when missing), then runs kafkajs_test.js under
# kafka_broker_run, on a fresh broker of its own.  An argument names
# another script of this directory to run the same way
# (kafkajs_txn_test.js).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v node >/dev/null ||
	fail "node is missing: apt-get install nodejs npm (tools/lib/deps.sh installs them)"
: "${KAFKAJS_DIR:?KAFKAJS_DIR must name where kafkajs is installed (meson test sets it)}"
: "${SLUICE_SOURCE_ROOT:=$HERE/../../..}"
# shellcheck source=tools/lib/deps.sh
source "$SLUICE_SOURCE_ROOT/tools/lib/deps.sh"
deps_kafkajs "$KAFKAJS_DIR" ||
	fail "kafkajs is missing and could not be installed into $KAFKAJS_DIR/node_modules"
export NODE_PATH=$KAFKAJS_DIR/node_modules
SCRIPT=${1:-kafkajs_test.js}
[[ -f $HERE/$SCRIPT ]] || fail "no such test script: $HERE/$SCRIPT"
if [[ -n ${KAFKA_BOOTSTRAP:-} ]]; then
	exec node "$HERE/$SCRIPT"
fi
[[ -x ${KAFKA_BROKER_RUN:-} ]] ||
	fail "KAFKA_BROKER_RUN must name tests/kafka/clients/kafka_broker_run (meson test sets it)"
exec "$KAFKA_BROKER_RUN" --timeout 60 --name kafkajs -- node "$HERE/$SCRIPT"
