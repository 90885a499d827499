/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The built-in service catalogue (docs/matrix-language.md). Each entry is
 * written in the matrix language itself and parsed by the same code as a
 * matrix's own services, so there is one definition of what a service is.
 * A matrix may override any of them by declaring a service of the same name.
 */
#include <stddef.h>

#include "internal.h"

#define ADM ZW_SVC_ADMIN
#define TLS ZW_SVC_TLS
#define VPN ZW_SVC_VPN

const struct zw_builtin_service zw_builtin_services[] = {
	/* administration */
	{"ssh", "{proto: tcp, ports: [22], inspect: ssh}", ADM},
	{"rdp", "{proto: tcp, ports: [3389]}", ADM},
	{"winrm", "{proto: tcp, ports: [5985]}", ADM},
	{"winrm-tls", "{proto: tcp, ports: [5986], inspect: tls}", ADM | TLS},
	{"telnet", "{proto: tcp, ports: [23], unsafe: true}", ADM},
	{"vnc", "{proto: tcp, ports: [5900], unsafe: true}", ADM},
	{"snmp", "{proto: udp, ports: [161], unsafe: true}", ADM},
	{"netconf", "{proto: tcp, ports: [830], inspect: ssh}", 0},
	/* web and mail */
	{"https", "{proto: tcp, ports: [443], inspect: tls}", TLS},
	{"http", "{proto: tcp, ports: [80], unsafe: true, inspect: http}", 0},
	{"proxy", "{proto: tcp, ports: [3128]}", 0},
	{"smtp", "{proto: tcp, ports: [25]}", 0},
	{"smtps", "{proto: tcp, ports: [465], inspect: tls}", TLS},
	{"imaps", "{proto: tcp, ports: [993], inspect: tls}", TLS},
	/* infrastructure */
	{"dns", "[{proto: udp, ports: [53]}, {proto: tcp, ports: [53]}]", 0},
	{"ntp", "{proto: udp, ports: [123]}", 0},
	{"dhcp", "{proto: udp, ports: [67]}", 0},
	{"dhcpv6", "{proto: udp, ports: [547]}", 0},
	{"syslog", "{proto: udp, ports: [514]}", 0},
	{"syslog-tls", "{proto: tcp, ports: [6514], inspect: tls}", TLS},
	{"ipfix", "[{proto: udp, ports: [4739]}, {proto: tcp, ports: [4739]}]", 0},
	{"ldap", "{proto: tcp, ports: [389], unsafe: true}", 0},
	{"ldaps", "{proto: tcp, ports: [636], inspect: tls}", TLS},
	{"kerberos", "[{proto: udp, ports: [88]}, {proto: tcp, ports: [88]}]", 0},
	{"radius", "{proto: udp, ports: [1812, 1813]}", 0},
	{"smb", "{proto: tcp, ports: [445]}", 0},
	{"bgp", "{proto: tcp, ports: [179]}", 0},
	{"postgresql", "{proto: tcp, ports: [5432]}", 0},
	{"mysql", "{proto: tcp, ports: [3306]}", 0},
	/* file transfer */
	{"ftp", "{proto: tcp, ports: [21], unsafe: true}", 0},
	{"tftp", "{proto: udp, ports: [69], unsafe: true}", 0},
	/* tunnels */
	{"ipsec", "[{proto: udp, ports: [500, 4500]}, {proto: 50}]", VPN},
	{"wireguard", "{proto: udp, ports: [51820]}", VPN},
	{"openvpn", "[{proto: udp, ports: [1194]}, {proto: tcp, ports: [1194]}]", VPN},
	/* diagnostics */
	{"icmp-echo", "{proto: icmp, types: [echo-request]}", 0},
	{"icmpv6-echo", "{proto: icmpv6, types: [echo-request]}", 0},
	{NULL, NULL, 0},
};
