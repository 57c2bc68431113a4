#!/usr/bin/env bash
#
# sarama_test.sh VERSION [PARTS]: Sarama (Debian's
# golang-github-shopify-sarama-dev) against the broker's Kafka listener.
# Builds sarama_test.go into $SARAMA_DIR with `go test -c` in GOPATH mode
# (GOPATH=/usr/share/gocode, GO111MODULE=off), offline (GOPROXY=off, no
# module download, the build cache in $SARAMA_DIR/gocache), then runs it
# under kafka_broker_run, on a fresh broker of its own.  VERSION is the
# config.Version of every client: "default" (sarama.NewConfig's) or
# "2.1.0"; PARTS is a comma list of sarama_test.go's parts (all when
# omitted).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }

version=${1:?usage: sarama_test.sh default|2.1.0 [PARTS]}
parts=${2:-admin,metadata,produce,consume,offsets,group,delete}
gopath=/usr/share/gocode

command -v go >/dev/null ||
	fail "go is missing: apt-get install golang-go (tools/lib/deps.sh installs it)"
[[ -f $gopath/src/github.com/Shopify/sarama/sarama.go ]] ||
	fail "Sarama is missing from $gopath/src: apt-get install" \
		"golang-github-shopify-sarama-dev (tools/lib/deps.sh installs it)"
: "${SARAMA_DIR:?SARAMA_DIR must name where to build (meson test sets it)}"
[[ -x ${KAFKA_BROKER_RUN:-} ]] ||
	fail "KAFKA_BROKER_RUN must name tests/kafka/clients/kafka_broker_run (meson test sets it)"

mkdir -p "$SARAMA_DIR"
bin=$SARAMA_DIR/sarama_test
log=$SARAMA_DIR/build.log
# GOFLAGS is emptied so that a -mod= from the environment cannot ask for
# modules; GOTOOLCHAIN=local keeps a newer go from fetching a toolchain.
# The cgo flags quiet a deprecation warning in DataDog/zstd's binding.
if ! env GOPATH="$gopath" GO111MODULE=off GOFLAGS= GOPROXY=off GOTOOLCHAIN=local \
	GOCACHE="$SARAMA_DIR/gocache" CGO_CFLAGS="-O2 -g -Wno-deprecated-declarations" \
	timeout 240 go test -c -o "$bin.new" "$HERE/sarama_test.go" >"$log" 2>&1; then
	cat "$log" >&2
	fail "go test -c of sarama_test.go failed in GOPATH mode (log: $log)"
fi
mv -f "$bin.new" "$bin"
echo "built $bin with $(go version)"

# Below V0_10_1_0 Sarama's metadata requests (v0, and v1 from its admin)
# cannot say "do not create", so with topics created automatically (Kafka's
# default, and sluice's) a DescribeTopics after DeleteTopic creates the
# topic again, on Kafka as here: the default-version run turns automatic
# creation off, as a Kafka operator running such clients would.
set_args=()
if [[ $version == default ]]; then
	set_args=(--set auto_create_topics=false)
fi
exec "$KAFKA_BROKER_RUN" --timeout 60 --name "sarama-$version" "${set_args[@]}" -- \
	"$bin" -test.v -test.timeout 55s -sarama.version="$version" -sarama.parts="$parts"
