# SPDX-License-Identifier: LGPL-2.1-or-later
# What the checks inside a booted system share (sourced by bash: inside.sh
# in the container, tests/arm/inside-arm.sh on the ARM machines): one
# "ok:"/"FAIL:" line per check in $results/checks.log, bounded waits, the
# daemon's properties on the system bus, the simulator as a service.
# The sourcing script sets $results first.
log=$results/checks.log
sim=/usr/local/bin/fota-modem-sim
link=/run/fota-sim/modem
www=/srv/www
http_port=8080
bus=(org.quectel.Fota1 /org/quectel/Fota1)
failures=0
: >"$log"

note() { echo "$*" | tee -a "$log"; }
ok() { note "ok: $*"; }
fail() {
	note "FAIL: $*"
	failures=$((failures + 1))
}
check() { # DESCRIPTION COMMAND...: ok when COMMAND succeeds
	local what=$1
	shift
	if "$@" >>"$results/commands.log" 2>&1; then ok "$what"; else fail "$what"; fi
}
wait_for() { # SECONDS COMMAND...: polls until COMMAND succeeds
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}
cursor() { journalctl -n 0 --show-cursor -q | sed -n 's/^-- cursor: //p'; }
as() { # USER COMMAND...
	local user=$1
	shift
	runuser -u "$user" -- "$@"
}
revision() { busctl get-property "${bus[@]}" org.quectel.Fota1 ModemRevision | sed 's/^s "\(.*\)"$/\1/'; }
state() { busctl get-property "${bus[@]}" org.quectel.Fota1 State | sed 's/^s "\(.*\)"$/\1/'; }

# The simulator as a service of its own; the daemon reaches it through the
# link. A pty keeps TIOCEXCL while its master is open, so a daemon started
# anew (not resumed by the modem's reboot) needs a fresh simulator. Each
# gets a unit name of its own: a transient unit just stopped may still be
# loaded, and systemd-run then refuses its name ("already loaded").
sims=0
start_sim() { # REVISION [SIMULATOR OPTION...]: the later options win
	local revision=$1
	shift
	if ((sims > 0)); then
		systemctl stop "fota-sim-$sims.service" >/dev/null 2>&1
	fi
	sims=$((sims + 1))
	mkdir -p /run/fota-sim
	systemd-run -q --unit="fota-sim-$sims" --service-type=exec "$sim" --link "$link" \
		--log "$results/sim.log" --revision "$revision" --reboot-ms 500 --update-ms 4000 \
		--download-ms 1000 "$@" &&
		wait_for 10 test -e "$link"
}
make_package() { # FROM TO NAME
	"$sim" --make-package "$www/$3" --from "$1" --to "$2" --size 65536 >/dev/null
}
# A package from each REVISION to the next (a0N.bin, N the target's place:
# a02.bin takes the first to the second), served on 127.0.0.1 by busybox
# httpd as a service; returns once it answers.
serve_packages() { # REVISION...
	local from=$1 to n=2
	shift
	mkdir -p "$www"
	for to in "$@"; do
		make_package "$from" "$to" "a0$n.bin"
		from=$to
		n=$((n + 1))
	done
	chmod -R a+rX "$www"
	systemd-run -q --unit=fota-http --service-type=exec \
		busybox httpd -f -p "127.0.0.1:$http_port" -h "$www" &&
		wait_for 10 busybox wget -q -O /dev/null "http://127.0.0.1:$http_port/a02.bin"
}
R1=EC200TCNDAR02A01M16 R2=EC200TCNDAR02A02M16 R3=EC200TCNDAR02A03M16
R4=EC200TCNDAR02A04M16 R5=EC200TCNDAR02A05M16
