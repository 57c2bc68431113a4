#!/bin/sh
# The systemd units of tools/systemd/ (docs/config.md, "Running under
# systemd"), checked without starting them:
#   - systemd-analyze verify accepts sluiced.service, sluice-control.service
#     and sluiced.service with the sluiced-dpdk.conf drop-in, with no
#     warning at all (an unknown or misspelt directive is only a warning,
#     and systemd ignores it: a hardening option silently lost);
#   - each runs as User=sluice with the hardening options docs/config.md
#     promises, and no capability unless the DPDK drop-in adds it;
#   - systemd-analyze security --offline rates them no worse than today
#     plus 0.1 (systemd 252: sluiced 1.5, sluice-control 1.4, with the
#     DPDK drop-in 2.9), so dropping any one option shows;
#   - systemd-sysusers accepts sluice.sysusers (dry run in a scratch root).
# Usage: systemd_units_test.sh SRCDIR SLUICED SLUICE_CONTROL
# Exit 77 when systemd-analyze is not installed (package systemd).
set -u
src=$1/tools/systemd
sluiced=$2
control=$3
command -v systemd-analyze >/dev/null 2>&1 ||
	{ echo "SKIP: systemd-analyze not found (package systemd)"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/sluice-units-XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# ExecStart must name an executable: point it at this build's binaries.
sed "s|/usr/local/bin/sluiced|$sluiced|" "$src/sluiced.service" \
	>"$tmp/sluiced.service"
sed "s|/usr/local/bin/sluice-control|$control|" \
	"$src/sluice-control.service" >"$tmp/sluice-control.service"
# The drop-in merged into a copy (verify reads no .d directories of a path
# given to it); its Wants= on sluice-control is dropped (not in a unit path).
awk -v dropin="$src/sluiced-dpdk.conf" '
	/^\[Install\]/ {
		while ((getline l < dropin) > 0)
			if (l !~ /^\[Service\]/) print l
	}
	!/^Wants=sluice-control/ { print }' "$tmp/sluiced.service" \
	>"$tmp/sluiced-dpdk.service"

cd "$tmp" || exit 1
for u in sluiced.service sluice-control.service sluiced-dpdk.service; do
	out=$(systemd-analyze verify --man=no "./$u" 2>&1)
	rc=$?
	[ $rc -eq 0 ] || bad "$u: systemd-analyze verify exited $rc"
	[ -z "$out" ] || bad "$u: systemd-analyze verify says: $out"
done

for u in sluiced.service sluice-control.service; do
	for d in User=sluice Group=sluice StateDirectory=sluice \
		NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes \
		PrivateTmp=yes PrivateDevices=yes CapabilityBoundingSet= \
		AmbientCapabilities= ReadWritePaths=/var/lib/sluice UMask=0027; do
		grep -qx "$d" "$u" || bad "$u lacks the line $d"
	done
	grep -q '^CapabilityBoundingSet=.' "$u" &&
		bad "$u grants a capability"
done
grep -qx 'LimitMEMLOCK=infinity' sluiced.service ||
	bad "sluiced.service lacks LimitMEMLOCK=infinity"
grep -qx 'CapabilityBoundingSet=CAP_IPC_LOCK CAP_NET_RAW CAP_NET_ADMIN CAP_BPF' \
	sluiced-dpdk.service || bad "the DPDK drop-in's capabilities changed"

# exposure: "→ Overall exposure level for X: 1.5 OK"
if systemd-analyze security --help 2>&1 | grep -q -- --offline; then
	for pair in sluiced.service:1.6 sluice-control.service:1.5 \
		sluiced-dpdk.service:3.0; do
		u=${pair%%:*}
		max=${pair##*:}
		lvl=$(systemd-analyze security --offline=yes --man=no "./$u" 2>&1 |
			sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p')
		[ -n "$lvl" ] || { bad "$u: no exposure level"; continue; }
		awk -v l="$lvl" -v m="$max" 'BEGIN { exit !(l <= m) }' ||
			bad "$u: exposure $lvl, above $max"
		echo "$u: exposure $lvl (at most $max)"
	done
else
	echo "note: systemd-analyze security --offline not supported here"
fi

if command -v systemd-sysusers >/dev/null 2>&1; then
	mkdir -p "$tmp/root/etc"
	out=$(systemd-sysusers --dry-run --root="$tmp/root" \
		"$src/sluice.sysusers" 2>&1) || bad "systemd-sysusers: $out"
	echo "$out" | grep -q "user 'sluice'" ||
		bad "sluice.sysusers creates no user sluice: $out"
fi
[ $fail -eq 0 ] && echo "systemd units: verified"
exit $fail
