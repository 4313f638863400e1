#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Starts a private dbus-daemon whose configuration includes the policy
# file: a syntax error makes it refuse to start, and a warning about the
# file (an unknown element or attribute) fails the test too.
#   test-policy.sh POLICY
set -u
policy=$1
tmp=$(mktemp -d)
# Reachable by the unprivileged user the test switches to.
chmod 755 "$tmp"
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

xmllint --noout "$policy" 2>"$tmp/xmllint.log" || {
	cat "$tmp/xmllint.log"
	exit 1
}

cat >"$tmp/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=$tmp/bus</listen>
  <auth>EXTERNAL</auth>
  <!-- The default policy of Debian's system.conf. -->
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  </policy>
  <include>$policy</include>
</busconfig>
CONF

dbus-daemon --config-file="$tmp/bus.conf" --nofork --nosyslog --print-address=1 \
	>"$tmp/address" 2>"$tmp/daemon.log" &
pid=$!
i=0
while [ ! -s "$tmp/address" ] && kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
if [ ! -s "$tmp/address" ]; then
	echo "dbus-daemon did not start with $policy:"
	cat "$tmp/daemon.log"
	exit 1
fi
# The group may not exist on a build host, and a container may not raise
# the fd limit; anything else is a problem.
if grep -v -e 'Unknown group "quectel-fota"' -e 'fd limit' "$tmp/daemon.log" | grep -q .; then
	echo "dbus-daemon complained about $policy:"
	cat "$tmp/daemon.log"
	exit 1
fi

# The policy in action: only root may own the name.
export DBUS_SYSTEM_BUS_ADDRESS="unix:path=$tmp/bus"
request_name() {
	"$@" dbus-send --system --dest=org.freedesktop.DBus --type=method_call --print-reply \
		/org/freedesktop/DBus org.freedesktop.DBus.RequestName \
		string:org.quectel.Fota1 uint32:4 >"$tmp/own.log" 2>&1
}
if [ "$(id -u)" -eq 0 ]; then
	if ! request_name || ! grep -q 'uint32 1' "$tmp/own.log"; then
		echo "root could not own org.quectel.Fota1:"
		cat "$tmp/own.log"
		exit 1
	fi
	unprivileged="setpriv --reuid=65534 --regid=65534 --clear-groups"
else
	unprivileged=
fi
if request_name $unprivileged; then
	echo "a user other than root could own org.quectel.Fota1:"
	cat "$tmp/own.log"
	exit 1
fi
grep -q AccessDenied "$tmp/own.log" || {
	echo "unexpected answer to RequestName:"
	cat "$tmp/own.log"
	exit 1
}
echo "dbus-daemon accepted $policy; only root may own org.quectel.Fota1"
