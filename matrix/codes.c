/* SPDX-License-Identifier: BSD-2-Clause */
/* The ZW codes: what each means, why the regulation asks for it, how to fix
 * it (zonectl check --explain ZWnnn). */
#include <stddef.h>

#include <zonewall/matrix.h>

static const struct zw_code_info codes[] = {
	{1, ZW_ERROR, "malformed matrix", "M1",
	 "The file is not valid YAML, or a value has the wrong type or is out of "
	 "range, or a key is unknown, duplicated or missing.",
	 "The matrix is the authoritative cartography of authorised flows (M1). "
	 "A typo in a key must never silently widen or narrow what is enforced, "
	 "so every key is checked and anything unrecognised is refused.",
	 "Correct the key or value at the position given. The accepted keys and "
	 "types are listed in docs/matrix-guide.md; dates are YYYY-MM-DD, ports "
	 "1-65535 or \"lo-hi\", booleans true/false."},
	{2, ZW_ERROR, "unknown zone or service", "M1",
	 "A flow (or a probe) names a zone or a service that is neither declared in the "
	 "matrix nor (for services) in the built-in catalogue.",
	 "Each flow must describe exactly which zones and which services, "
	 "protocols and ports it opens (M1); an unresolved name cannot be "
	 "enforced and is refused rather than guessed.",
	 "Declare the zone under 'zones:' or the service under 'services:', or "
	 "fix the spelling. 'zonectl show --format text' lists the zones; the "
	 "built-in services are listed in docs/matrix-guide.md."},
	{3, ZW_ERROR, "duplicate flow id", "L1",
	 "Two flows carry the same id.",
	 "The change journal tracks every creation, modification and deletion of "
	 "a rule by its id for a year (L1, L5); two flows with one id would make "
	 "that history ambiguous.",
	 "Give each flow a unique id. Keep ids stable across versions: change a "
	 "flow in place rather than re-creating it under a new id."},
	{10, ZW_ERROR, "bad network prefix", "M6",
	 "A prefix is malformed, has host bits set (10.0.0.1/24), or the "
	 "networks of two different zones overlap.",
	 "The cartography must state the IP ranges of each sub-network (M6) and "
	 "every address must belong to exactly one trust zone (Z1), otherwise "
	 "the same host would be judged by two zones' rules.",
	 "Write the network address with its length (10.0.0.0/24); split or "
	 "re-assign overlapping ranges so each address belongs to one zone."},
	{11, ZW_ERROR, "narrowing outside its zone", "Z3",
	 "A flow's 'src' or 'dst' address lies outside the zone it narrows (for "
	 "'outside': inside a declared zone).",
	 "Narrowing restricts a flow to some hosts of its zone (Z3: strictly "
	 "necessary flows). An address outside the zone would never match, or "
	 "would silently describe another zone's host.",
	 "Use addresses that belong to the flow's from/to zone networks, or "
	 "change the flow's zones."},
	{12, ZW_ERROR, "internal zone holding a broad prefix", "Z5",
	 "A zone of an internal kind (operations, servers, admin, update, "
	 "infrastructure, internal-service) holds more addresses of one family "
	 "than a /7 (1/128 of the address space): more than 2^25 IPv4 or 2^121 "
	 "IPv6 addresses in all its networks, such as a default route "
	 "(0.0.0.0/0, ::/0) or a /1 to /6. All of RFC 1918 stays below.",
	 "Interconnections go through interconnection zones (Z5) and internal "
	 "zones never talk directly to undeclared networks (ZW022). An internal "
	 "zone that declares the internet as its own would make every internet "
	 "host a member: traffic from 8.8.8.8 would be judged as traffic inside "
	 "the zone, and the outside-to-internal rule would be sidestepped.",
	 "Declare only the internal zone's own networks. Addresses on the "
	 "internet belong to 'outside' or to an interconnection zone "
	 "(internet-access, an exchange zone...)."},
	{13, ZW_WARNING, "interconnection zone holding a broad prefix", "M6",
	 "A zone of an interconnection kind holds more addresses of one family "
	 "than a /7 (more than 2^25 IPv4 or 2^121 IPv6 addresses in all its "
	 "networks, such as a default route); the message gives the count.",
	 "The cartography states the IP ranges of each sub-network and the "
	 "egress ranges towards the internet and third parties (M6). A default "
	 "route in a zone takes every undeclared address out of 'outside': it "
	 "may be meant (an internet-access zone that is the internet), or a "
	 "typo that widens every flow of the zone.",
	 "If the zone really stands for that much of the internet, keep it. "
	 "Otherwise narrow its networks to the ranges it holds, and let "
	 "'outside' stand for the rest."},
	{14, ZW_ERROR, "IPv4-mapped IPv6 prefix", "Z1",
	 "A prefix in a zone's networks or a flow's src/dst lies inside "
	 "::ffff:0:0/96, the IPv4-mapped IPv6 addresses (::ffff:10.1.0.5).",
	 "Every address belongs to exactly one trust zone (Z1). An IPv4-mapped "
	 "IPv6 address is another spelling of an IPv4 host: declared that way, "
	 "one host could sit in two zones under two spellings, and checks "
	 "against the IPv4 networks (overlaps, ZW022) would not see it.",
	 "Write the IPv4 form the message gives (::ffff:10.1.0.5 is 10.1.0.5, "
	 "::ffff:10.1.0.0/120 is 10.1.0.0/24)."},
	{20, ZW_ERROR, "mandatory zone kind missing", "Z1",
	 "The profile requires zone kinds the matrix does not declare. minimal: "
	 "operations, servers, admin, update, remote-access and one exchange "
	 "kind. piams: the six internal kinds, remote-access and one exchange "
	 "kind.",
	 "The regulation mandates a partition of the service network into these "
	 "trust zones (Z1); their absence means the cartography is incomplete.",
	 "Declare a zone of each missing kind with its networks, or pick the "
	 "profile that matches the platform ('profile: minimal')."},
	{21, ZW_ERROR, "operations zone not isolated", "Z2",
	 "A zone of kind 'operations' does not say 'isolate: true', or a flow "
	 "goes from an operations zone to itself.",
	 "Administrators' and maintainers' workstations must not be able to "
	 "talk to each other directly (Z2).",
	 "Set 'isolate: true' on the zone and remove flows from the zone to "
	 "itself; workstations reach each other's services through the servers "
	 "zone if they must."},
	{22, ZW_ERROR, "direct flow between outside and an internal zone", "Z5",
	 "A flow goes from 'outside' (addresses in no declared zone) to an "
	 "internal zone kind, or from an internal zone to 'outside'.",
	 "Interconnections with other networks go through interconnection "
	 "zones (Z5): internal zones never talk directly to undeclared networks "
	 "(M3, default deny between sub-systems).",
	 "Route the flow through an interconnection zone (internet-access, "
	 "remote-access, an exchange zone...), e.g. outside -> remote-access and "
	 "remote-access -> servers."},
	{23, ZW_ERROR, "admin zone reachable from an interconnection zone", "M4",
	 "A flow goes into an 'admin' zone from an interconnection zone other "
	 "than 'remote-access' (from 'outside' it is ZW022).",
	 "Administration interfaces accept only the connections listed in the "
	 "matrix and are never reachable from a public or third-party network "
	 "(M4); nomadic administrators come in through remote-access (M5).",
	 "Remove the flow, or bring the administrators in through the "
	 "remote-access zone (VPN) and jump hosts."},
	{30, ZW_ERROR, "missing justification", "M1",
	 "A flow has no justification, or an empty one.",
	 "Each authorised flow carries its business or infrastructure "
	 "justification in the matrix (M1); an auditor checks it.",
	 "Add 'justification:' with one sentence saying why the flow is needed."},
	{31, ZW_ERROR, "unsafe service without compensating measures", "M1",
	 "A flow uses a service marked unsafe (telnet, ftp, http, snmp...) and "
	 "has no 'compensating:' text.",
	 "Where a service, protocol or port is known to be unsafe, the matrix "
	 "must state the compensating measures taken (M1).",
	 "Prefer a safe service (ssh, https, snmp over TLS...). If the unsafe "
	 "one is unavoidable, add 'compensating:' describing the measures "
	 "(dedicated VLAN, allow-listed hosts, monitoring...)."},
	{32, ZW_WARNING, "unencrypted admin protocol crossing zones", "M5",
	 "A flow between two different zones uses an administration protocol "
	 "(ssh, rdp, winrm, telnet, vnc, snmp family) that is unsafe, i.e. not "
	 "encrypted and authenticated.",
	 "Administration flows leaving the administration network must be "
	 "encrypted and authenticated (M5).",
	 "Use the encrypted variant (ssh instead of telnet, winrm-tls, VNC "
	 "inside ssh or a VPN), or keep the flow inside one zone."},
	{33, ZW_WARNING, "remote access not through a VPN or TLS", "M5",
	 "A flow from 'outside' into a 'remote-access' zone uses a service that "
	 "is neither a VPN (ipsec, wireguard, openvpn) nor TLS-protected.",
	 "Remote access across third-party networks is encrypted and "
	 "authenticated (M5).",
	 "Expose only the VPN or TLS gateway service to outside; services "
	 "declared in the matrix count as TLS with 'inspect: tls'."},
	{40, ZW_WARNING, "redundant flow", "Z3",
	 "Every packet the flow allows is already allowed by other live flows "
	 "that live at least as long as it does (no expiry, or a later one), or "
	 "by the intra-zone rule of a non-isolated zone. Flows are checked "
	 "from the last to the first, so removing every flow this warning names "
	 "leaves the allowed traffic unchanged, today and on every later day. "
	 "Flows with 'log' or 'rate' are never named, and flows with 'rate' "
	 "never cover others: removing them would change logging or limits.",
	 "Only strictly necessary flows should be declared (Z3); duplicates make "
	 "reviews and audits harder and hide the real reason of an opening.",
	 "Remove the flow, or merge its justification into the covering flow(s) "
	 "named in the message."},
	{41, ZW_WARNING, "expired flow or stale review", "M2",
	 "The flow's 'expires' date is past (it is no longer enforced), or its "
	 "'review' date is more than 365 days old.",
	 "The matrix must be reviewed at least yearly (M2).",
	 "Review the flow with its owner and update 'review:', or remove it."},
	{50, ZW_WARNING, "unused declaration", "Z3",
	 "A service declared in the matrix is used by no flow, or a zone has no "
	 "flow in or out.",
	 "The cartography should describe what is really used (M6, Z3); dead "
	 "declarations drift out of date.",
	 "Remove the declaration, or add the flows it was meant for."},
	{60, ZW_ERROR, "bad probe interface", "D1",
	 "A probe names an interface that is not a network interface name: "
	 "1 to 15 characters, letters, digits, '.', '_' or '-', starting with a "
	 "letter or digit.",
	 "Detection probes must receive the traffic of every interconnection "
	 "(D1); a name no engine can attach a mirror to would leave the probe "
	 "blind, so it is refused before anything is enforced.",
	 "Write the name of the interface the probe is plugged into, as 'ip "
	 "link' shows it (for the DPDK engine, the name of its mirror port)."},
	{61, ZW_ERROR, "interface shared by two probes", "D1",
	 "Two probes name the same interface.",
	 "Each probe interface receives exactly the traffic of its probe's "
	 "zones (D1); two probes on one interface would mix two selections "
	 "and each engine installs one mirror per probe interface.",
	 "Merge the two probes (list every zone in one probe), or give each "
	 "its own interface."},
	{62, ZW_ERROR, "bad probe zone list", "D1",
	 "A probe's 'zones' is empty, names a zone twice, or names 'outside'.",
	 "A probe receives all the traffic to or from the zones it lists (D1); "
	 "'outside' is everything undeclared, which no probe can be sized for, "
	 "and an empty list would mirror nothing while looking configured.",
	 "List each watched zone once; to watch an interconnection, name the "
	 "interconnection zone (internet-access, third-party-exchange...)."},
	{0, ZW_ERROR, NULL, NULL, NULL, NULL, NULL},
};

const struct zw_code_info *zw_code__info(int code)
{
	for (const struct zw_code_info *c = codes; c->code; c++)
		if (c->code == code)
			return c;
	return NULL;
}

const struct zw_code_info *zw_code__all(void)
{
	return codes;
}
