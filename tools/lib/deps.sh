# shellcheck shell=bash
#
# The Debian 12 packages sluice needs to build, test and fuzz, in one place.
# Sourced by tools/run and tools/test; call deps_install.
#
# deps_install installs only what is missing (checked with dpkg-query), and
# runs apt-get update only when something is missing, so a second run on a
# ready machine touches nothing and needs no network.

SLUICE_DEPS=(
	meson ninja-build pkg-config gcc  # the build
	binutils                          # nm for tools/check_layers.py
	liburing-dev libisal-dev          # storage: io_uring, CRC32C
	zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev  # storage: batch codecs (compaction)
	libcmocka-dev                     # unit tests
	libraft-dev libuv1-dev            # control: the cluster metadata quorum (canonical raft)
	libdpdk-dev libnuma-dev           # the kernel-bypass driver
	dpdk dpdk-dev python3             # dpdk-telemetry.py, devbind, hugepages
	iproute2 iptables ethtool         # network namespaces, loss in tests
	fio                               # the disk peer in perf/
	clang-14 libfuzzer-14-dev libclang-rt-14-dev  # fuzzers, sanitizers
	kcat librdkafka-dev python3-confluent-kafka   # Kafka clients in tests/kafka/clients
	python3-kafka python3-snappy python3-lz4 python3-zstandard  # kafka-python and its codecs
	golang-go golang-github-shopify-sarama-dev    # Sarama, built in GOPATH mode
	libhiredis-dev libnats-dev librabbitmq-dev libmosquitto-dev  # the peers' clients in perf/suite
)

# kafkajs for tests/kafka/clients, from the npm registry (deps_kafkajs).
SLUICE_KAFKAJS=kafkajs@2.2.4

# Print the packages of SLUICE_DEPS that are not installed, one a line.
deps_missing() {
	local pkg status
	for pkg in "${SLUICE_DEPS[@]}"; do
		status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
		if [[ $status != "install ok installed" ]]; then
			echo "$pkg"
		fi
	done
}

# Run a command as root: directly when we are root, else through sudo.
deps_as_root() {
	if [[ $EUID -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		echo "error: installing packages needs root; run as root or install sudo" >&2
		return 1
	fi
}

deps_install() {
	if ! command -v dpkg-query >/dev/null; then
		echo "error: dpkg-query not found: tools/ expects Debian 12;" \
			"install these by hand: ${SLUICE_DEPS[*]}" >&2
		return 1
	fi
	local missing
	mapfile -t missing < <(deps_missing)
	# node and npm may come from elsewhere than Debian (NodeSource): ask
	# for Debian's only when the commands are missing.
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		missing+=(nodejs npm)
	fi
	if [[ ${#missing[@]} -eq 0 ]]; then
		echo "==> packages: all ${#SLUICE_DEPS[@]} present"
		return 0
	fi
	echo "==> packages: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	if ! deps_as_root apt-get update; then
		echo "error: apt-get update failed: check the network and /etc/apt/sources.list*" >&2
		return 1
	fi
	if ! deps_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y \
		-o DPkg::Lock::Timeout=300 "${missing[@]}"; then
		echo "error: apt-get install failed for: ${missing[*]}" >&2
		echo "       (another apt running? see the messages above)" >&2
		return 1
	fi
}

# meson_setup DIR [meson options...]: configure DIR for the given options,
# reusing it when it was already configured with exactly these options and
# the same CC; `meson setup --reconfigure` when the options changed (or a
# person configured it by hand); `--wipe` when CC changed, since meson cannot
# switch compilers in place.  meson compile regenerates by
# itself when a meson.build changes, so that needs nothing here.
meson_setup() {
	local dir=$1
	shift
	local want stamp="$dir/.sluice-setup"
	want="CC=${CC:-} $*"
	if [[ -f $dir/build.ninja && -f $stamp && $(<"$stamp") == "$want" ]]; then
		echo "==> $dir: reusing (configured with: $want)"
		return 0
	fi
	local mode=()
	if [[ -f $dir/meson-private/coredata.dat ]]; then
		local had_cc=""
		if [[ -f $stamp ]]; then
			had_cc=$(cut -d' ' -f1 "$stamp")
		fi
		if [[ $had_cc == "CC=${CC:-}" || (-z $had_cc && -z ${CC:-}) ]]; then
			mode=(--reconfigure)
		else
			mode=(--wipe)
		fi
	elif [[ -e $dir ]]; then
		# What a failed first `meson setup` leaves behind is safe to
		# remove; anything else may be someone's files.
		local other
		other=$(find "$dir" -mindepth 1 -maxdepth 1 ! -name 'meson-*' \
			! -name .sluice-setup -print -quit)
		if [[ -n $other ]]; then
			echo "error: $dir exists but is not a meson build tree;" \
				"move it away and run again" >&2
			return 1
		fi
		echo "==> $dir: left by a failed meson setup; starting afresh"
		rm -rf "$dir"
	fi
	echo "==> meson setup ${mode[*]:+${mode[*]} }$dir $*"
	if ! meson setup "${mode[@]}" "$dir" "$@"; then
		echo "error: meson setup $dir failed; see $dir/meson-logs/meson-log.txt" >&2
		rm -f "$stamp"
		return 1
	fi
	echo "$want" >"$stamp"
}

# deps_kafkajs DIR: make DIR/node_modules hold $SLUICE_KAFKAJS, installing
# it from the npm registry only when it is missing or another version.
# DIR is in a build tree (the kafkajs test passes its build directory); no
# package.json or lock file is written there or in the source tree.
deps_kafkajs() {
	local dir=$1 want=${SLUICE_KAFKAJS#*@} have=""
	local pkg=$dir/node_modules/kafkajs/package.json
	if [[ -f $pkg ]]; then
		have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$pkg" | head -n1)
	fi
	[[ $have == "$want" ]] && return 0
	if ! command -v npm >/dev/null; then
		echo "error: npm not found: apt-get install nodejs npm (tools/lib/deps.sh" \
			"deps_install does it), then run again" >&2
		return 1
	fi
	mkdir -p "$dir"
	echo "==> npm: installing $SLUICE_KAFKAJS into $dir/node_modules"
	local log=$dir/npm-install.log
	if ! timeout 60 npm install --prefix "$dir" --no-save --no-package-lock \
		--no-audit --no-fund --loglevel=error --fetch-timeout=20000 --fetch-retries=1 \
		"$SLUICE_KAFKAJS" >"$log" 2>&1; then
		echo "error: npm install $SLUICE_KAFKAJS failed; is the npm registry" \
			"($(npm config get registry 2>/dev/null)) reachable? npm said:" >&2
		tail -n 20 "$log" >&2
		return 1
	fi
	if [[ ! -f $pkg ]]; then
		echo "error: npm install $SLUICE_KAFKAJS left no $pkg (log: $log)" >&2
		return 1
	fi
}
