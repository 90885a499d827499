# SPDX-License-Identifier: BSD-2-Clause
# Sourced by netns tests: a client, a firewall and a server namespace in a
# line, routed through the firewall (the topology of l7_inspect.sh,
# nft_records.sh and netns_xdp_l7.sh).
#
#   zw_three_ns C F S TAG NET
#
# C's eth0 NET.1.2/24 <-> F's fa NET.1.1, F's fb NET.2.1 <-> S's eth0
# NET.2.2/24 (NET: the first two octets, e.g. 10.71); default routes via
# F, forwarding on in F. The caller deletes the namespaces (trap).
# Returns non-zero if a namespace or a link cannot be made.
zw_three_ns() {
	local c=$1 f=$2 s=$3 tag=$4 net=$5 n
	for n in "$c" "$f" "$s"; do ip netns add "$n" || return 1; done
	ip link add "$tag-a" netns "$c" type veth peer name fa netns "$f" || return 1
	ip link add "$tag-b" netns "$s" type veth peer name fb netns "$f" || return 1
	ip -n "$c" link set "$tag-a" name eth0
	ip -n "$s" link set "$tag-b" name eth0
	ip -n "$c" addr add "$net.1.2/24" dev eth0
	ip -n "$f" addr add "$net.1.1/24" dev fa
	ip -n "$f" addr add "$net.2.1/24" dev fb
	ip -n "$s" addr add "$net.2.2/24" dev eth0
	for n in "$c" "$f" "$s"; do ip -n "$n" link set lo up; done
	ip -n "$c" link set eth0 up; ip -n "$s" link set eth0 up
	ip -n "$f" link set fa up; ip -n "$f" link set fb up
	ip -n "$c" route add default via "$net.1.1"
	ip -n "$s" route add default via "$net.2.1"
	ip netns exec "$f" sysctl -qw net.ipv4.ip_forward=1
}
